"""Scheduler names as artists know them (A1111 names), independent of torch.

The engine maps each name to a diffusers scheduler class and configuration
(`studio.engine.schedulers`); the UI lists them; metadata writes and reads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchedulerInfo:
    name: str  # what Studio shows and stores
    sampler: str  # A1111 "Sampler:" value
    schedule_type: str  # A1111 "Schedule type:" value


SCHEDULERS: tuple[SchedulerInfo, ...] = (
    SchedulerInfo("DPM++ 2M", "DPM++ 2M", "Automatic"),
    SchedulerInfo("DPM++ 2M Karras", "DPM++ 2M", "Karras"),
    SchedulerInfo("DPM++ SDE", "DPM++ SDE", "Automatic"),
    SchedulerInfo("DPM++ SDE Karras", "DPM++ SDE", "Karras"),
    SchedulerInfo("Euler", "Euler", "Automatic"),
    SchedulerInfo("Euler a", "Euler a", "Automatic"),
    SchedulerInfo("Heun", "Heun", "Automatic"),
    SchedulerInfo("DPM2", "DPM2", "Automatic"),
    SchedulerInfo("DPM2 a", "DPM2 a", "Automatic"),
    SchedulerInfo("LMS", "LMS", "Automatic"),
    SchedulerInfo("DDIM", "DDIM", "Automatic"),
    SchedulerInfo("PNDM", "PLMS", "Automatic"),
    SchedulerInfo("UniPC", "UniPC", "Automatic"),
    SchedulerInfo("DDPM", "DDPM", "Automatic"),
    SchedulerInfo("LCM", "LCM", "Automatic"),
    # A1111's newer samplers and schedule types, where diffusers has them (issue 15)
    SchedulerInfo("DPM++ 2M Exponential", "DPM++ 2M", "Exponential"),
    SchedulerInfo("DPM++ 2M SGM Uniform", "DPM++ 2M", "SGM Uniform"),
    SchedulerInfo("DPM++ 2M Beta", "DPM++ 2M", "Beta"),
    SchedulerInfo("DPM++ 2M SDE", "DPM++ 2M SDE", "Automatic"),
    SchedulerInfo("DPM++ 2M SDE Karras", "DPM++ 2M SDE", "Karras"),
    SchedulerInfo("DPM++ 2M SDE Exponential", "DPM++ 2M SDE", "Exponential"),
    SchedulerInfo("DPM++ 3M SDE", "DPM++ 3M SDE", "Automatic"),
    SchedulerInfo("DPM++ 3M SDE Karras", "DPM++ 3M SDE", "Karras"),
    SchedulerInfo("DPM++ 3M SDE Exponential", "DPM++ 3M SDE", "Exponential"),
    SchedulerInfo("Euler Karras", "Euler", "Karras"),
    SchedulerInfo("Euler Exponential", "Euler", "Exponential"),
    SchedulerInfo("Euler SGM Uniform", "Euler", "SGM Uniform"),
    SchedulerInfo("Euler Beta", "Euler", "Beta"),
    SchedulerInfo("UniPC Karras", "UniPC", "Karras"),
    SchedulerInfo("TCD", "TCD", "Automatic"),
)
# Schedule types older A1111 versions wrote into the sampler name ("DPM++ 2M Karras")
_SCHEDULE_SUFFIXES = ("Karras", "Exponential", "SGM Uniform", "Beta")

SCHEDULER_NAMES: tuple[str, ...] = tuple(s.name for s in SCHEDULERS)
DEFAULT_SCHEDULER = "DPM++ 2M Karras"


def scheduler_info(name: str) -> SchedulerInfo:
    for info in SCHEDULERS:
        if info.name == name:
            return info
    raise KeyError(name)


def scheduler_from_a1111(sampler: str, schedule_type: str | None = None) -> str | None:
    """Map A1111's `Sampler:` (+ optional `Schedule type:`) back to a Studio name, or None."""
    sampler = sampler.strip()
    schedule = (schedule_type or "").strip()
    # Older A1111 wrote the schedule into the sampler name: "DPM++ 2M Karras".
    for suffix in _SCHEDULE_SUFFIXES:
        if sampler.endswith(f" {suffix}") and not any(s.sampler == sampler for s in SCHEDULERS):
            sampler, schedule = sampler[: -len(suffix) - 1], suffix
    candidates = [s for s in SCHEDULERS if s.sampler.lower() == sampler.lower()]
    for s in candidates:
        if s.schedule_type.lower() == (schedule or "Automatic").lower():
            return s.name
    return candidates[0].name if candidates else None
