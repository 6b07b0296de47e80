"""Studio's scheduler names (A1111's, `studio.core.schedulers`) -> ComfyUI's sampler_name + scheduler.

A1111's "Automatic" schedule is the sampler's own default spacing in diffusers, which is ComfyUI's
"normal" (DDIM: "ddim_uniform"). PNDM (A1111's PLMS) and TCD have no KSampler sampler in ComfyUI:
asking for them remotely is an input problem the artist is told about.
"""

from __future__ import annotations

from studio.core.schedulers import scheduler_info
from studio.remote.errors import Unsupported

SAMPLERS: dict[str, str] = {  # A1111 "Sampler:" -> ComfyUI sampler_name
    "Euler": "euler",
    "Euler a": "euler_ancestral",
    "Heun": "heun",
    "DPM2": "dpm_2",
    "DPM2 a": "dpm_2_ancestral",
    "LMS": "lms",
    "DPM++ 2M": "dpmpp_2m",
    "DPM++ SDE": "dpmpp_sde",
    "DPM++ 2M SDE": "dpmpp_2m_sde",
    "DPM++ 3M SDE": "dpmpp_3m_sde",
    "DDIM": "ddim",
    "UniPC": "uni_pc",
    "DDPM": "ddpm",
    "LCM": "lcm",
}
SCHEDULES: dict[str, str] = {  # A1111 "Schedule type:" -> ComfyUI scheduler
    "Automatic": "normal",
    "Karras": "karras",
    "Exponential": "exponential",
    "SGM Uniform": "sgm_uniform",
    "Beta": "beta",
}
_AUTOMATIC_OVERRIDES = {"ddim": "ddim_uniform"}


def comfy_sampler(name: str) -> tuple[str, str]:
    """(sampler_name, scheduler) for a Studio scheduler name; `Unsupported` when ComfyUI has none."""
    try:
        info = scheduler_info(name)
    except KeyError:
        raise Unsupported(f"Unknown scheduler {name!r}.") from None
    sampler = SAMPLERS.get(info.sampler)
    schedule = SCHEDULES.get(info.schedule_type)
    if sampler is None or schedule is None:
        raise Unsupported(
            f"The scheduler {name!r} has no ComfyUI equivalent, so it cannot run on a server: "
            "choose another (Euler, DPM++ 2M Karras, ...)."
        )
    if info.schedule_type == "Automatic":
        schedule = _AUTOMATIC_OVERRIDES.get(sampler, schedule)
    return sampler, schedule


def check_offered(
    name: str, sampler: str, scheduler: str, samplers: list[str] | None, schedulers: list[str] | None
) -> None:
    """Raise `Unsupported` when the server's lists (from /object_info; None = not known) lack them."""
    if samplers is not None and sampler not in samplers:
        raise Unsupported(
            f"This ComfyUI server has no sampler {sampler!r} (for {name!r}): choose another scheduler."
        )
    if schedulers is not None and scheduler not in schedulers:
        raise Unsupported(
            f"This ComfyUI server has no scheduler {scheduler!r} (for {name!r}): choose another scheduler."
        )
