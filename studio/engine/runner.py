"""One diffusers pipeline call with step reporting, previews, cancel and NaN checks.

The ``callback_on_step_end`` hook:
- maps model calls to denoising steps (Heun / DPM2 / DPM++ SDE call the model twice per step);
- checks the latents for NaN/inf and raises ``NonFiniteOutput`` at once (no wasted steps);
- makes a preview every ``preview_interval`` steps;
- raises ``JobCancelled`` when the job's cancel event is set, so the VAE never decodes after cancel
  (diffusers' own ``_interrupt`` flag skips the remaining steps but still decodes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from studio.core.request import PreviewKind
from studio.engine.latent_rgb import LatentRGB
from studio.engine.preview import PreviewMaker, X0Capture
from studio.engine.schedulers import completed_step, scheduler_order

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

# (step 1..n, total n, a HxWx3 uint8 preview per batch image (empty: none this step), preview kind)
StepHook = Callable[[int, int, "list[np.ndarray]", PreviewKind], None]


class JobCancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the step callback to stop a pipeline call before the VAE decode."""

    def __init__(self, at_step: int) -> None:
        super().__init__(f"cancelled after step {at_step}")
        self.at_step = at_step


class NonFiniteOutput(Exception):  # noqa: N818
    """The model produced NaN or infinite values."""


NAN_MESSAGE = (
    "The model produced NaN (not-a-number) values, so there is no image. This usually means float16 "
    "overflowed: switch Precision to fp32 or bf16 in the settings, or try another model."
)
# In fp32 nothing overflows: the NaN come from the weights themselves.
NAN_FP32_MESSAGE = (
    "The model produced NaN values in full precision (fp32): its weights are damaged (NaN). "
    "Re-download or re-export the model file."
)


def non_finite(pipe: Pipeline) -> NonFiniteOutput:
    """The NaN failure with the advice for the precision `pipe`'s UNet runs in."""
    import torch

    from studio.engine.dit import denoiser

    full_precision = denoiser(pipe).dtype == torch.float32
    return NonFiniteOutput(NAN_FP32_MESSAGE if full_precision else NAN_MESSAGE)


@dataclass
class CallContext:
    """What a pipeline call needs from the job around it."""

    cancel: threading.Event
    on_step: StepHook
    total_steps: int = 1  # denoising steps the job reports (GenerationPlan.total_steps)
    # a job of several calls (the hires fix): the steps of the current call (None: total_steps) and
    # the job's steps done before it, so the steps reported run on from one call to the next
    call_steps: int | None = None
    step_offset: int = 0
    preview_kind: PreviewKind = PreviewKind.NONE
    preview_interval: int = 1
    latent_rgb: LatentRGB | None = None
    last_step: int = 0  # updated as steps complete (read by the engine when a call is cancelled)
    started: float = 0.0  # time.monotonic() when the job started running
    # the kind to preview now, read at every step (the job's live x0 / x_t toggle); None: preview_kind
    current_kind: Callable[[], PreviewKind] | None = None
    # name -> A1111 short hash of the textual inversion embeddings the prompts used (`TI hashes`)
    embedding_hashes: dict[str, str] = field(default_factory=dict)
    # control model path -> short hash (`ControlNet N: ... Model: name [hash]`)
    control_hashes: dict[str, str] = field(default_factory=dict)
    # called after each model call with (the next step index, the steps of the call): IP-Adapter
    # start/end switch their scale here
    step_hooks: list[Callable[[int, int], None]] = field(default_factory=list)


def run_pipeline(pipe: Pipeline, kwargs: dict[str, object], ctx: CallContext) -> npt.NDArray[np.float32]:
    """Call ``pipe(**kwargs)`` and return the images as float32 NHWC in [0, 1]."""
    images = np.asarray(_run(pipe, kwargs, ctx, "np"), dtype=np.float32)
    if not np.isfinite(images).all():
        raise non_finite(pipe)
    return images


def run_pipeline_latents(pipe: Pipeline, kwargs: dict[str, object], ctx: CallContext) -> torch.Tensor:
    """Call ``pipe(**kwargs)`` without the VAE decode: the final latents (scaled as the UNet sees them)."""
    import torch

    latents = _run(pipe, kwargs, ctx, "latent")
    if not isinstance(latents, torch.Tensor) or not bool(torch.isfinite(latents).all()):
        raise non_finite(pipe)
    return latents


def _run(pipe: Pipeline, kwargs: dict[str, object], ctx: CallContext, output_type: str) -> object:
    import torch

    if ctx.cancel.is_set():
        raise JobCancelled(ctx.last_step)
    capture = X0Capture(pipe.scheduler)
    maker = PreviewMaker(
        ctx.preview_kind, ctx.preview_interval, ctx.latent_rgb, capture, _unpacker(pipe, kwargs)
    )

    def callback(
        p: Pipeline, i: int, _t: torch.Tensor, tensors: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        latents = tensors["latents"]
        total = ctx.total_steps
        calls = getattr(p, "num_timesteps", None) or len(p.scheduler.timesteps)
        call_step = completed_step(i, calls, ctx.call_steps or total, scheduler_order(p.scheduler))
        if call_step is not None:
            step = ctx.step_offset + call_step
            if not bool(torch.isfinite(latents).all()):
                raise non_finite(p)
            if ctx.current_kind is not None:
                maker.set_kind(ctx.current_kind())
            previews = maker.make_batch(latents) if maker.due(step, total) else []
            ctx.last_step = step
            ctx.on_step(step, total, previews, maker.kind if previews else PreviewKind.NONE)
        if ctx.cancel.is_set():
            raise JobCancelled(ctx.last_step)
        for hook in ctx.step_hooks:
            hook(i + 1, calls)
        return tensors

    try:
        with torch.inference_mode():
            out = pipe(**kwargs, **_step_callback(pipe, callback), output_type=output_type)
    finally:
        capture.restore()
        _release(pipe)
    return out.images


def _unpacker(pipe: Pipeline, kwargs: dict[str, object]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Flux's packed latents -> (B, 16, h, w) for previews (the call's width / height); else None."""
    from studio.engine.dit import preview_unpacker

    width, height = kwargs.get("width"), kwargs.get("height")
    if not isinstance(width, int) or not isinstance(height, int):
        return None
    return preview_unpacker(pipe, width, height)


def _step_callback(pipe: Pipeline, callback: Callable[..., object]) -> dict[str, object]:
    """`callback_on_step_end`, or for the pipelines that only have the older `callback(i, t, latents)`
    (diffusers' T2I-Adapter pipeline) the same callback through it."""
    import inspect

    if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
        return {"callback_on_step_end": callback}

    def legacy(i: int, t: object, latents: object) -> None:
        callback(pipe, i, t, {"latents": latents})

    return {"callback": legacy, "callback_steps": 1}


def _release(pipe: Pipeline) -> None:
    """Undo what an interrupted call may have left behind (offload hooks)."""
    try:
        pipe.maybe_free_model_hooks()
    except Exception:  # never mask the real outcome of the call
        log.debug("maybe_free_model_hooks failed", exc_info=True)


def to_pil(images: npt.NDArray[np.float32]) -> list[Image.Image]:
    """float NHWC [0, 1] -> list of RGB PIL images (rounded like diffusers' numpy_to_pil)."""
    from PIL import Image

    data = (np.clip(images, 0.0, 1.0) * 255).round().astype(np.uint8)
    return [Image.fromarray(a, "RGB") for a in data]
