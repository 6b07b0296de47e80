"""A1111 sampler + schedule type names <-> Studio's scheduler names, the newer samplers included."""

from __future__ import annotations

import pytest

from studio.core.schedulers import SCHEDULERS, scheduler_from_a1111, scheduler_info


@pytest.mark.parametrize("info", SCHEDULERS, ids=lambda i: i.name)
def test_every_name_round_trips_through_a1111s_two_fields(info):
    assert scheduler_from_a1111(info.sampler, info.schedule_type) == info.name
    assert scheduler_info(info.name) == info


@pytest.mark.parametrize(
    ("sampler", "schedule", "name"),
    [
        ("DPM++ 3M SDE Exponential", None, "DPM++ 3M SDE Exponential"),  # older A1111: one field
        ("DPM++ 2M SDE Karras", None, "DPM++ 2M SDE Karras"),
        ("DPM++ 2M SDE", "Karras", "DPM++ 2M SDE Karras"),
        ("Euler", "SGM Uniform", "Euler SGM Uniform"),
        ("DPM++ 2M SDE", "Polyexponential", "DPM++ 2M SDE"),  # unknown schedule: the sampler's first
        ("DPM adaptive", None, None),
    ],
)
def test_a1111_names_as_written_by_old_and_new_versions(sampler, schedule, name):
    assert scheduler_from_a1111(sampler, schedule) == name
