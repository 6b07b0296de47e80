"""Per-step previews: latents -> small RGB images through a 4x3 linear map (+ bias).

Two kinds (``studio.core.request.PreviewKind``):
- ``x0``: the predicted clean image. Taken from the scheduler's ``pred_original_sample`` /
  ``denoised`` output when it has one (Euler, Heun, DPM2, LMS, DDIM, DDPM, LCM, DPM++ SDE), else
  computed from the captured model output: x0 = (x_t - sqrt(1-a)·eps) / sqrt(a) (epsilon),
  sqrt(a)·x_t - sqrt(1-a)·v (v-prediction) with a = alphas_cumprod[t].
- flow-matching schedulers (SD3 / Flux, ``studio.engine.dit``): the model output is a velocity v and
  x0 = x_t - sigma·v with the sigma of the step (the scheduler's ``sigmas`` at its step index).
  Flux's packed latents are unpacked (``PreviewMaker(unpack=...)``) before the colour map.
- ``latent``: the noisy latent x_t (divided by sqrt(1+sigma²) for sigma-scaled schedulers so it
  stays in range).

The scheduler's ``step`` is wrapped (``X0Capture``) rather than asking the pipeline for the noise
prediction: SD pipelines in diffusers 0.42 do not offer ``noise_pred`` to ``callback_on_step_end``.
The latent -> RGB factors come from ``latent_rgb.py``.

torch is imported inside functions.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np
import numpy.typing as npt

from studio.core.request import PreviewKind
from studio.engine.dit import is_flow_matching, x0_from_velocity
from studio.engine.latent_rgb import LatentRGB

if TYPE_CHECKING:
    import torch
    from diffusers.utils import BaseOutput

log = logging.getLogger(__name__)


class Scheduler(Protocol):
    """What previews use of a diffusers scheduler (``SchedulerMixin`` declares neither member)."""

    config: Mapping[str, object]
    step: Callable[..., object]


class X0Capture:
    """Wraps ``scheduler.step`` to remember what the last step saw and predicted.

    The wrapper keeps the original signature (``functools.wraps`` sets ``__wrapped__``): pipelines
    inspect ``scheduler.step`` to decide whether to pass ``generator`` and ``eta``, and without them
    ancestral samplers would draw noise from torch's global generator (not reproducible).
    """

    _ARGS = ("model_output", "timestep", "sample")

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.model_output: torch.Tensor | None = None
        self.timestep: torch.Tensor | float | None = None
        self.sample: torch.Tensor | None = None
        self.pred_x0: torch.Tensor | None = None
        self.sigma: float | None = None  # flow matching: the sigma the last step started from
        self._original = scheduler.step
        self._had_own_step = "step" in vars(scheduler)

        @functools.wraps(self._original)
        def step(*args: object, **kwargs: object) -> object:
            return self._step(*args, **kwargs)

        scheduler.step = step

    def _step(self, *args: object, **kwargs: object) -> object:
        return_dict = kwargs.pop("return_dict", True)
        out = cast("BaseOutput", self._original(*args, return_dict=True, **kwargs))  # as return_dict asks
        given = dict(zip(self._ARGS, args, strict=False))
        seen = [given.get(k, kwargs.get(k)) for k in self._ARGS]  # what diffusers passes: tensors, a timestep
        self.model_output = cast("torch.Tensor | None", seen[0])
        self.timestep = cast("torch.Tensor | float | None", seen[1])
        self.sample = cast("torch.Tensor | None", seen[2])
        self.pred_x0 = getattr(out, "pred_original_sample", None)
        if self.pred_x0 is None:
            self.pred_x0 = getattr(out, "denoised", None)
        self.sigma = _step_sigma(self.scheduler)
        return out if return_dict else out.to_tuple()

    def restore(self) -> None:
        """Put the scheduler's own ``step`` back and drop the tensors held from the last step."""
        self.model_output = self.timestep = self.sample = self.pred_x0 = None
        self.sigma = None
        if self._had_own_step:
            self.scheduler.step = self._original
        else:
            del self.scheduler.step

    def x0(self) -> torch.Tensor | None:
        """The predicted clean latents of the last step (None before the first step)."""
        if self.pred_x0 is not None:
            return self.pred_x0
        if self.model_output is None or self.timestep is None or self.sample is None:
            return None  # no step seen yet (a step sets all three)
        if self.sigma is not None:
            return x0_from_velocity(self.sample, self.model_output, self.sigma)
        return x0_from_model_output(self.scheduler, self.model_output, self.timestep, self.sample)


def _step_sigma(scheduler: Scheduler) -> float | None:
    """For a flow-matching scheduler just stepped: the sigma of that step (its index was advanced)."""
    if not is_flow_matching(scheduler):
        return None
    sigmas = getattr(scheduler, "sigmas", None)
    index = getattr(scheduler, "step_index", None)
    if sigmas is None or index is None or index < 1:
        return None
    return float(sigmas[min(index - 1, len(sigmas) - 1)])


def x0_from_model_output(
    scheduler: Scheduler,
    model_output: torch.Tensor,
    timestep: torch.Tensor | float,
    sample: torch.Tensor,
) -> torch.Tensor:
    """x0 for variance-preserving schedulers from alphas_cumprod at ``timestep``."""
    import torch

    prediction = scheduler.config.get("prediction_type", "epsilon")
    if prediction == "sample":
        return model_output
    alphas = getattr(scheduler, "alphas_cumprod", None)
    if alphas is None:
        return sample
    t = int(timestep.item() if isinstance(timestep, torch.Tensor) else timestep)
    a = float(alphas[max(0, min(t, len(alphas) - 1))])
    eps = model_output[:, : sample.shape[1]]
    if prediction == "v_prediction":
        return math.sqrt(a) * sample - math.sqrt(1 - a) * eps
    return (sample - math.sqrt(1 - a) * eps) / math.sqrt(a)


def normalized_latent(scheduler: Scheduler, latents: torch.Tensor) -> torch.Tensor:
    """x_t scaled into the variance-preserving range (sigma-scaled schedulers start at sigma ~ 14)."""
    if float(getattr(scheduler, "init_noise_sigma", 1.0)) <= 1.0:
        return latents
    sigmas = getattr(scheduler, "sigmas", None)
    index = getattr(scheduler, "step_index", None)
    if sigmas is None or index is None:
        return latents
    sigma = float(sigmas[min(index, len(sigmas) - 1)])
    return latents / math.sqrt(1.0 + sigma * sigma)


class PreviewMaker:
    """Turns the state at a completed step into a uint8 HxWx3 preview, every ``interval`` steps."""

    def __init__(
        self,
        kind: PreviewKind,
        interval: int,
        rgb: LatentRGB | None,
        capture: X0Capture | None,
        unpack: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.unpack = unpack  # packed latents (Flux) -> (B, C, h, w)
        self.kind = PreviewKind(kind) if rgb is not None else PreviewKind.NONE
        self.interval = max(1, interval)
        self.rgb = rgb
        self.capture = capture

    def due(self, step: int, total: int) -> bool:
        return self.kind is not PreviewKind.NONE and (step % self.interval == 0 or step == total)

    def set_kind(self, kind: PreviewKind) -> None:
        """Switch kinds between steps (the job's live toggle); stays NONE without a colour map."""
        self.kind = PreviewKind(kind) if self.rgb is not None else PreviewKind.NONE

    def make(self, latents: torch.Tensor) -> npt.NDArray[np.uint8] | None:
        """Preview of the first image in the batch, or None when there is nothing to show."""
        previews = self.make_batch(latents, limit=1)
        return previews[0] if previews else None

    def make_batch(self, latents: torch.Tensor, limit: int | None = None) -> list[npt.NDArray[np.uint8]]:
        """A preview of every image in the batch (the first `limit`), or [] when there is none.

        Each is the same small latent -> RGB map as for one image (latent resolution, ~0.2 ms)."""
        if self.rgb is None:
            return []
        source = None
        if self.kind is PreviewKind.X0 and self.capture is not None:
            source = self.capture.x0()
        elif self.kind is PreviewKind.LATENT and self.capture is not None:
            source = normalized_latent(self.capture.scheduler, latents)
        if source is None:
            source = latents
        if self.unpack is not None:
            source = self.unpack(source)
        count = len(source) if limit is None else min(limit, len(source))
        return [self.rgb.to_rgb(source[i]) for i in range(count)]
