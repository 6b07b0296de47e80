"""Scheduler names (A1111 style, see `studio.core.schedulers`) -> diffusers scheduler instances.

Every scheduler is built with ``cls.from_config(base_config, **overrides)`` so the model's own
training schedule (betas, prediction type, steps offset) is kept. Overrides switch off options a
previous scheduler may have left in the config (e.g. Karras sigmas) so each name means one thing.

diffusers is imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from studio.core.request import denoising_steps
from studio.core.schedulers import SCHEDULER_NAMES

if TYPE_CHECKING:
    from diffusers import SchedulerMixin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerSpec:
    class_name: str  # diffusers class
    overrides: Mapping[str, object] = field(default_factory=dict)
    needs: str = ""  # an optional Python package the class needs ("scipy", "torchsde")


_NO_KARRAS = {"use_karras_sigmas": False}
# Latents are not in [-1, 1]: clipping x0 (the DDIM/DDPM default when a model's config does not say,
# e.g. one shipped with an Euler config) ruins Stable Diffusion images.
_NO_CLIP = {"clip_sample": False, "thresholding": False}
_KARRAS = {"use_karras_sigmas": True}
# Euler and the multistep DPM solvers take every sigma schedule: reset all, then switch one on
_PLAIN_SIGMAS: dict[str, object] = {
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
}
_SCHEDULES: dict[str, dict[str, object]] = {
    "Automatic": _PLAIN_SIGMAS,
    "Karras": {**_PLAIN_SIGMAS, "use_karras_sigmas": True},
    "Exponential": {**_PLAIN_SIGMAS, "use_exponential_sigmas": True},
    "Beta": {**_PLAIN_SIGMAS, "use_beta_sigmas": True},
    "SGM Uniform": {**_PLAIN_SIGMAS, "timestep_spacing": "trailing"},
}
_DPM_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
_DPM_2M_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 2}
_DPM_3M_SDE = {"algorithm_type": "sde-dpmsolver++", "solver_order": 3}


def _sigmas(class_name: str, base: Mapping[str, object], schedule: str) -> SchedulerSpec:
    return SchedulerSpec(
        class_name, {**base, **_SCHEDULES[schedule]}, needs="scipy" if schedule == "Beta" else ""
    )


SPECS: dict[str, SchedulerSpec] = {
    "DPM++ 2M": SchedulerSpec(
        "DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2, **_NO_KARRAS}
    ),
    "DPM++ 2M Karras": SchedulerSpec(
        "DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2, **_KARRAS}
    ),
    "DPM++ SDE": SchedulerSpec("DPMSolverSDEScheduler", _NO_KARRAS, needs="torchsde"),
    "DPM++ SDE Karras": SchedulerSpec("DPMSolverSDEScheduler", _KARRAS, needs="torchsde"),
    "Euler": SchedulerSpec("EulerDiscreteScheduler", _NO_KARRAS),
    "Euler a": SchedulerSpec("EulerAncestralDiscreteScheduler"),
    "Heun": SchedulerSpec("HeunDiscreteScheduler", _NO_KARRAS),
    "DPM2": SchedulerSpec("KDPM2DiscreteScheduler", _NO_KARRAS),
    "DPM2 a": SchedulerSpec("KDPM2AncestralDiscreteScheduler", _NO_KARRAS),
    "LMS": SchedulerSpec("LMSDiscreteScheduler", _NO_KARRAS, needs="scipy"),
    "DDIM": SchedulerSpec("DDIMScheduler", {"set_alpha_to_one": False, **_NO_CLIP}),
    "PNDM": SchedulerSpec("PNDMScheduler", {"skip_prk_steps": True, "set_alpha_to_one": False}),
    "UniPC": SchedulerSpec("UniPCMultistepScheduler", _NO_KARRAS),
    "DDPM": SchedulerSpec("DDPMScheduler", _NO_CLIP),
    "LCM": SchedulerSpec("LCMScheduler", _NO_CLIP),
    "DPM++ 2M Exponential": _sigmas("DPMSolverMultistepScheduler", _DPM_2M, "Exponential"),
    "DPM++ 2M SGM Uniform": _sigmas("DPMSolverMultistepScheduler", _DPM_2M, "SGM Uniform"),
    "DPM++ 2M Beta": _sigmas("DPMSolverMultistepScheduler", _DPM_2M, "Beta"),
    "DPM++ 2M SDE": _sigmas("DPMSolverMultistepScheduler", _DPM_2M_SDE, "Automatic"),
    "DPM++ 2M SDE Karras": _sigmas("DPMSolverMultistepScheduler", _DPM_2M_SDE, "Karras"),
    "DPM++ 2M SDE Exponential": _sigmas("DPMSolverMultistepScheduler", _DPM_2M_SDE, "Exponential"),
    "DPM++ 3M SDE": _sigmas("DPMSolverMultistepScheduler", _DPM_3M_SDE, "Automatic"),
    "DPM++ 3M SDE Karras": _sigmas("DPMSolverMultistepScheduler", _DPM_3M_SDE, "Karras"),
    "DPM++ 3M SDE Exponential": _sigmas("DPMSolverMultistepScheduler", _DPM_3M_SDE, "Exponential"),
    "Euler Karras": _sigmas("EulerDiscreteScheduler", {}, "Karras"),
    "Euler Exponential": _sigmas("EulerDiscreteScheduler", {}, "Exponential"),
    "Euler SGM Uniform": _sigmas("EulerDiscreteScheduler", {}, "SGM Uniform"),
    "Euler Beta": _sigmas("EulerDiscreteScheduler", {}, "Beta"),
    "UniPC Karras": SchedulerSpec("UniPCMultistepScheduler", _KARRAS),
    "TCD": SchedulerSpec("TCDScheduler", _NO_CLIP),
}

assert set(SPECS) == set(SCHEDULER_NAMES), "every Studio scheduler name needs a diffusers mapping"


class SchedulerUnavailable(RuntimeError):
    """The scheduler needs a Python package that is not installed."""


def spec_for(name: str) -> SchedulerSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"Unknown scheduler {name!r}. Choose one of: {', '.join(SCHEDULER_NAMES)}."
        ) from None


def create_scheduler(
    name: str, base_config: Mapping[str, object], seeds: Sequence[int] | None = None
) -> SchedulerMixin:
    """A fresh scheduler instance for ``name`` built from the model's scheduler config.

    ``seeds`` (one per batch image) seed the Brownian-tree noise of the SDE schedulers, which would
    otherwise draw a seed from torch's global generator and not be reproducible.
    """
    import diffusers

    spec = spec_for(name)
    _check_dependency(name, spec)
    cls = getattr(diffusers, spec.class_name)
    overrides = dict(spec.overrides)
    if spec.class_name == "DPMSolverSDEScheduler" and seeds:
        overrides["noise_sampler_seed"] = list(seeds) if len(seeds) > 1 else int(seeds[0])
    scheduler = cls.from_config(dict(base_config), **overrides)
    log.debug("Scheduler %s -> %s %s", name, spec.class_name, overrides)
    return scheduler


def _check_dependency(name: str, spec: SchedulerSpec) -> None:
    if not spec.needs:
        return
    import importlib.util

    if importlib.util.find_spec(spec.needs) is None:
        raise SchedulerUnavailable(
            f'The "{name}" sampler needs the Python package "{spec.needs}", which is not installed. '
            "Pick another sampler, or install it."
        )


def scheduler_order(scheduler: SchedulerMixin) -> int:
    """Model calls per denoising step (2 for Heun / DPM2 / DPM++ SDE, else 1)."""
    return max(1, int(getattr(scheduler, "order", 1) or 1))


def completed_step(call_index: int, num_timesteps: int, total: int, order: int) -> int | None:
    """The 1-based denoising step (of ``total``) that model call ``call_index`` completes, or None.

    Measured in diffusers 0.42: second-order schedulers (Heun, DPM2, DPM2 a, DPM++ SDE) make
    2n-1 model calls for n steps (the last step is a single first-order call); PLMS (PNDM) makes
    n+1, the first being a warm-up at the same timestep. Warm-up calls come first, so count from
    there: a step completes on every ``order``-th call after them and on the final call.
    """
    order = max(1, order)
    warmup = max(0, num_timesteps - ((total - 1) * order + 1))
    j = call_index - warmup
    if j < 0:
        return None
    if call_index >= num_timesteps - 1:
        return total
    if (j + 1) % order == 0:
        return min(total, (j + 1) // order)
    return None


def expected_steps(steps: int, strength: float | None) -> int:
    """Denoising steps a job will report: all of them, or diffusers' strength-reduced count."""
    return denoising_steps(steps, strength)
