"""GPU memory modes: how much of the model lives on the GPU, chosen from the free VRAM.

Modes, from the fastest (most memory) to the slowest (least memory):

- ``full``: every component on the GPU.
- ``vae``: as ``full``, plus VAE tiling and slicing (the decode of a large image or a batch is done
  in tiles / one image at a time, so it no longer peaks far above the denoising).
- ``model_offload``: diffusers' ``enable_model_cpu_offload``: each component (text encoders, UNet,
  VAE) moves to the GPU only while it runs; plus VAE tiling and slicing.
- ``sequential``: diffusers' ``enable_sequential_cpu_offload``: weights stream to the GPU layer by
  layer (very slow, but runs in little memory); plus attention slicing and VAE tiling and slicing.

The rule (:func:`choose_mode`): the fastest mode whose estimated peak fits in the free VRAM with a
margin (``need * HEADROOM + RESERVE_BYTES <= free``). Estimated peaks, at the job's size and batch:

- ``full``: all weights + UNet activations + an untiled decode of the whole batch at once;
- ``vae``: all weights + UNet activations + the decode of one VAE tile;
- ``model_offload``: the largest component's weights + UNet activations + one tile's decode;
- ``sequential``: whatever is left (the last resort; never refused).

UNet activations grow with the latent pixels (the image's pixels / 64) times the batch (the
classifier-free guidance pass is included in the per-pixel figure); a decode with the output
pixels. The per-pixel figures are for fp16 (bf16 alike) with PyTorch's SDPA attention; they are
deliberately generous estimates (not yet measured on a GPU by this project), and fp32 doubles them.
An estimate that is too low is caught by the out-of-memory fallback (the engine retries once in the
next lower mode).

Only CUDA uses modes (:func:`uses_memory_modes`); on the CPU and MPS nothing here is called.

Undoing: VAE tiling/slicing is switched off again, and model offload's hooks are removed
(``remove_all_hooks``) before the pipeline moves back to the GPU. Sequential offload moves the
weights to the ``meta`` device and keeps them only in its hooks, so it cannot be undone in place:
leaving it needs the model loaded again (:func:`needs_reload`), which ``ModelManager`` does; that
also undoes its attention slicing (``disable_attention_slicing`` would reset every attention
processor, the fused-QKV and IP-Adapter ones included, so it is never called).

torch is imported inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


class MemoryMode(enum.Enum):
    """Declared from the most GPU memory (fastest) to the least (slowest)."""

    FULL = "full"
    VAE = "vae"
    MODEL_OFFLOAD = "model_offload"
    SEQUENTIAL = "sequential"

    @property
    def rank(self) -> int:
        """0 for ``full`` ... 3 for ``sequential``: higher uses less memory."""
        return list(MemoryMode).index(self)

    def lower(self) -> MemoryMode | None:
        """The next mode using less memory; None after ``sequential``."""
        modes = list(MemoryMode)
        return modes[self.rank + 1] if self.rank + 1 < len(modes) else None

    @property
    def label(self) -> str:
        """How the artist reads it ("model offload")."""
        return _LABELS[self]


_LABELS = {
    MemoryMode.FULL: "full GPU",
    MemoryMode.VAE: "VAE tiling",
    MemoryMode.MODEL_OFFLOAD: "model offload",
    MemoryMode.SEQUENTIAL: "sequential offload",
}
AUTO = "auto"
MEMORY_MODES = (AUTO, *(m.value for m in MemoryMode))  # the setting's values

# The figures of the rule (see the module docstring).
HEADROOM = 1.1
RESERVE_BYTES = 512 * MIB  # allocator fragmentation, cuDNN/cuBLAS workspaces
# UNet activations per latent pixel per batch image (guidance pass included), fp16, SDPA
UNET_BYTES_PER_LATENT_PIXEL = {"sd1": 160 * KIB, "sd2": 160 * KIB, "sdxl": 80 * KIB}
# VAE decode per output pixel per image decoded at once, fp16 (SDXL's VAE is upcast to fp32)
DECODE_BYTES_PER_PIXEL = {"sd1": 2560, "sd2": 2560, "sdxl": 4 * KIB}
# diffusers' tile (the VAE config's sample_size): larger images are decoded tile by tile
VAE_TILE_SIDE = {"sd1": 512, "sd2": 768, "sdxl": 1024}
_DEFAULT_FAMILY = "sd1"


def mode_from_setting(value: str) -> MemoryMode | None:
    """The mode a setting names; None for "auto" (and, with a warning, for an unknown value)."""
    text = (value or AUTO).strip().lower()
    if text == AUTO:
        return None
    try:
        return MemoryMode(text)
    except ValueError:
        log.warning("Unknown memory mode %r; choosing automatically", value)
        return None


def uses_memory_modes(device: str) -> bool:
    """Memory modes are a CUDA matter; other devices always run ``full`` and nothing is applied."""
    return str(device).startswith("cuda")


def unet_activation_bytes(family: str, size: tuple[int, int], batch: int = 1, dtype_bytes: int = 2) -> int:
    width, height = size
    latent_pixels = (width // 8) * (height // 8)
    per_pixel = UNET_BYTES_PER_LATENT_PIXEL.get(family, UNET_BYTES_PER_LATENT_PIXEL[_DEFAULT_FAMILY])
    return int(latent_pixels * max(1, batch) * per_pixel * dtype_bytes / 2)


def decode_bytes(
    family: str, size: tuple[int, int], images: int = 1, dtype_bytes: int = 2, *, tiled: bool = False
) -> int:
    """Peak of decoding ``images`` latents of ``size`` at once (tiled: one tile of one image)."""
    width, height = size
    pixels = width * height
    if tiled:
        side = VAE_TILE_SIDE.get(family, VAE_TILE_SIDE[_DEFAULT_FAMILY])
        pixels, images = min(pixels, side * side), 1
    per_pixel = DECODE_BYTES_PER_PIXEL.get(family, DECODE_BYTES_PER_PIXEL[_DEFAULT_FAMILY])
    return int(pixels * max(1, images) * per_pixel * dtype_bytes / 2)


def memory_needed(
    mode: MemoryMode,
    *,
    model_bytes: int,
    largest_bytes: int,
    family: str,
    size: tuple[int, int],
    batch: int = 1,
    dtype_bytes: int = 2,
) -> int:
    """Estimated peak GPU bytes of one job in ``mode`` (0 for ``sequential``: the last resort)."""
    activations = unet_activation_bytes(family, size, batch, dtype_bytes)
    if mode is MemoryMode.FULL:
        return model_bytes + activations + decode_bytes(family, size, batch, dtype_bytes)
    tile = decode_bytes(family, size, 1, dtype_bytes, tiled=True)
    if mode is MemoryMode.VAE:
        return model_bytes + activations + tile
    if mode is MemoryMode.MODEL_OFFLOAD:
        return largest_bytes + activations + tile
    return 0


def choose_mode(
    free_bytes: int,
    model_bytes: int,
    family: str,
    size: tuple[int, int],
    *,
    batch: int = 1,
    largest_bytes: int | None = None,
    dtype_bytes: int = 2,
) -> MemoryMode:
    """The fastest mode whose estimated peak fits in ``free_bytes`` (see the module docstring).

    ``free_bytes`` counts what the resident model occupies on the GPU as free (it is the model's to
    use); ``largest_bytes`` is the largest component's weights (default: ``model_bytes``).
    """
    largest = model_bytes if largest_bytes is None else largest_bytes
    for mode in (MemoryMode.FULL, MemoryMode.VAE, MemoryMode.MODEL_OFFLOAD):
        need = memory_needed(
            mode,
            model_bytes=model_bytes,
            largest_bytes=largest,
            family=family,
            size=size,
            batch=batch,
            dtype_bytes=dtype_bytes,
        )
        if need * HEADROOM + RESERVE_BYTES <= free_bytes:
            return mode
    return MemoryMode.SEQUENTIAL


def free_vram(device: str) -> int:
    """Bytes a job could still allocate on ``device``: the driver's free figure plus what PyTorch's
    allocator holds in its cache without using it."""
    import torch

    free, _total = torch.cuda.mem_get_info(torch.device(device))
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free) + max(0, int(cached))


def weight_bytes(pipe: Pipeline) -> tuple[int, int]:
    """(all weights and buffers of ``pipe``'s modules, the largest module's) in bytes."""
    sizes = [_module_bytes(module) for module in _modules(pipe)]
    return sum(sizes), max(sizes, default=0)


def _modules(pipe: Pipeline) -> Iterable[object]:
    import torch

    components = getattr(pipe, "components", {}) or {}
    return [m for m in components.values() if isinstance(m, torch.nn.Module)]


def _module_bytes(module: object) -> int:
    import torch

    assert isinstance(module, torch.nn.Module)
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def needs_reload(current: MemoryMode, target: MemoryMode) -> bool:
    """Leaving ``sequential`` cannot be done in place (its weights live in the offload hooks)."""
    return current is MemoryMode.SEQUENTIAL and target is not MemoryMode.SEQUENTIAL


def apply_mode(pipe: Pipeline, mode: MemoryMode, device: str, current: MemoryMode | None = None) -> None:
    """Put ``pipe`` (on the CPU, or already in ``current``) into ``mode`` on ``device`` with diffusers'
    own methods, undoing what ``current`` set that ``mode`` does not use."""
    if current is not None and needs_reload(current, mode):
        raise ValueError("sequential offload cannot be undone in place: load the model again")
    if mode in (MemoryMode.MODEL_OFFLOAD, MemoryMode.SEQUENTIAL):
        _uncompile(pipe)  # accelerate's hooks wrap the plain module, not a torch.compile wrapper
    if current is MemoryMode.MODEL_OFFLOAD and mode is not MemoryMode.MODEL_OFFLOAD:
        pipe.remove_all_hooks()
    if mode in (MemoryMode.FULL, MemoryMode.VAE):
        pipe.to(device)
    elif mode is MemoryMode.MODEL_OFFLOAD:
        pipe.enable_model_cpu_offload(device=device)
    elif current is not MemoryMode.SEQUENTIAL:
        pipe.enable_sequential_cpu_offload(device=device)
    if mode is MemoryMode.SEQUENTIAL:
        pipe.enable_attention_slicing("max")
    set_vae_tiling(pipe, mode is not MemoryMode.FULL)
    log.info("Memory mode: %s", mode.label)


def apply_to_derived(pipe: Pipeline, mode: MemoryMode, device: str) -> None:
    """A pipeline made with ``from_pipe`` from one in ``mode`` shares its modules (and their hooks):
    model offload is set up again for its own component order; nothing else is needed."""
    if mode is MemoryMode.MODEL_OFFLOAD:
        pipe.enable_model_cpu_offload(device=device)


def set_vae_tiling(pipe: Pipeline, on: bool) -> None:
    """VAE tiling and slicing on or off (the VAE's own switches; a swapped-in VAE needs them again)."""
    vae = getattr(pipe, "vae", None)
    if vae is None:
        return
    if on:
        vae.enable_tiling()
        vae.enable_slicing()
    else:
        vae.disable_tiling()
        vae.disable_slicing()


def _uncompile(pipe: Pipeline) -> None:
    unet = getattr(pipe, "unet", None)
    original = getattr(unet, "_orig_mod", None)
    if original is not None:
        pipe.unet = original
        log.info("The compiled UNet is not used with CPU offload")


def is_gpu_out_of_memory(exc: BaseException) -> bool:
    """A CUDA out-of-memory error (also as the cause of another error): the kind a lower-memory mode
    can help with. The CPU's ``MemoryError`` is not one (offloading needs more CPU memory)."""
    import torch

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, torch.cuda.OutOfMemoryError):
            return True
        if isinstance(current, RuntimeError) and "cuda out of memory" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


def fallback_message(mode: MemoryMode) -> str:
    """The warning the artist gets when a job ran out of GPU memory and is retried in ``mode``."""
    return (
        f"The GPU ran out of memory; the job is running again in a lower-memory mode ({mode.label}), "
        "which is slower. Set Memory mode in the settings to choose one yourself."
    )
