"""GPU fast path for a loaded pipeline: channels_last, fused QKV, torch.compile of the UNet.

Call it on the engine thread, right after a model is loaded and moved to its device:

    if apply_fast_path(pipe, device):
        warm_up(pipe, width=native, height=native)   # compiles now, on the engine thread

It is a no-op (returns False) on the CPU and MPS, when ``STUDIO_FAST_PATH=0``, or when the
pipeline was already prepared. ``torch.compile`` compiles lazily at the first UNet call, which can
take minutes with autotuning, so :func:`warm_up` runs a short call (latents only, no VAE decode)
to pay that cost during loading instead of in the artist's first generation. A new image size
recompiles once (the shapes are static); set ``STUDIO_COMPILE=0`` to keep only the cheap parts
(channels_last and fused QKV projections), which need no warm-up.

torch is imported inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

DEFAULT_COMPILE_MODE = "max-autotune-no-cudagraphs"  # "reduce-overhead" adds CUDA graphs
_MARK = "_studio_fast_path"


def fast_path_wanted(device: str) -> bool:
    """True on CUDA unless the user switched it off with STUDIO_FAST_PATH=0."""
    return str(device).startswith("cuda") and os.environ.get("STUDIO_FAST_PATH", "1") != "0"


def compile_mode() -> str | None:
    """The torch.compile mode (STUDIO_COMPILE_MODE), or None when STUDIO_COMPILE=0."""
    if os.environ.get("STUDIO_COMPILE", "1") == "0":
        return None
    return os.environ.get("STUDIO_COMPILE_MODE", DEFAULT_COMPILE_MODE)


def apply_fast_path(
    pipe: Pipeline, device: str, *, use_compile: bool = True, mode: str | None = None
) -> bool:
    """Prepare ``pipe`` for fast GPU inference in place; returns True if anything was applied.

    ``use_compile=False`` keeps only channels_last and fused QKV; ``mode`` overrides the
    torch.compile mode (default: :func:`compile_mode`, from the environment).
    """
    if not fast_path_wanted(device) or getattr(pipe, _MARK, False):
        return False
    to_channels_last(pipe)
    fuse_qkv(pipe)
    chosen = (mode or compile_mode()) if use_compile else None
    if chosen is not None and not compile_unet(pipe, chosen):
        chosen = None
    setattr(pipe, _MARK, True)
    log.info("GPU fast path on %s: channels_last, fused QKV, compile=%s", device, chosen)
    return True


def _set_inductor_flags() -> None:
    """The inductor settings diffusers recommends for UNets (convolutions as matmuls etc.)."""
    try:
        import torch._inductor.config as inductor

        inductor.conv_1x1_as_mm = True
        inductor.coordinate_descent_tuning = True
        inductor.epilogue_fusion = False
        inductor.coordinate_descent_check_all_directions = True
    except (ImportError, AttributeError):
        log.debug("inductor flags not available", exc_info=True)


def to_channels_last(pipe: Pipeline) -> None:
    """UNet and VAE weights in channels_last (NHWC) layout: faster convolutions on tensor cores."""
    import torch

    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.to(memory_format=torch.channels_last)


def fuse_qkv(pipe: Pipeline) -> None:
    """One matmul for the attention projections (diffusers' fuse_qkv_projections), if offered."""
    fuse = getattr(pipe, "fuse_qkv_projections", None)
    if fuse is None:
        return
    try:
        fuse()
    except Exception:  # an unusual attention processor: keep the model as it is
        log.warning("Could not fuse QKV projections; continuing without", exc_info=True)


def compile_unet(pipe: Pipeline, mode: str) -> bool:
    """Wrap the UNet in torch.compile (compiled lazily at its first call); False without Triton."""
    import torch

    _set_inductor_flags()
    if not _triton_available():
        log.warning("torch.compile needs Triton, which is not installed: the UNet is not compiled")
        return False
    pipe.unet = torch.compile(pipe.unet, mode=mode, fullgraph=True)
    return True


def _triton_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("triton") is not None


def is_compiled(pipe: Pipeline) -> bool:
    return hasattr(getattr(pipe, "unet", None), "_orig_mod")


def warm_up(pipe: Pipeline, *, width: int, height: int, steps: int = 2, guidance: float = 7.0) -> float:
    """Run a short call (UNet with guidance, no VAE decode) so compilation happens now; returns seconds."""
    import time

    import torch

    if not is_compiled(pipe):
        return 0.0
    start = time.perf_counter()
    kwargs: dict[str, object] = {}
    if int(getattr(pipe.unet.config, "in_channels", 4)) == 9:  # an inpainting model needs its inputs
        from PIL import Image

        kwargs = {
            "image": Image.new("RGB", (width, height), (127, 127, 127)),
            "mask_image": Image.new("L", (width, height), 255),
        }
    with torch.inference_mode():
        pipe(
            prompt="warm-up",
            num_inference_steps=steps,
            guidance_scale=guidance,
            width=width,
            height=height,
            output_type="latent",
            **kwargs,
        )
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    log.info("Compiled the UNet for %dx%d in %.1f s", width, height, seconds)
    return seconds
