"""Studio's (A1111's) scheduler names -> ComfyUI sampler + scheduler."""

from __future__ import annotations

import pytest

from studio.core.schedulers import SCHEDULER_NAMES
from studio.remote.errors import Unsupported
from studio.remote.samplers import check_offered, comfy_sampler

# ComfyUI's KSampler lists (comfy/samplers.py), the names Studio's map may produce
COMFY_SAMPLERS = {"euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral", "lms", "dpmpp_2m",
                  "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddim", "uni_pc", "ddpm", "lcm"}  # fmt: skip
COMFY_SCHEDULERS = {"normal", "karras", "exponential", "sgm_uniform", "beta", "ddim_uniform", "simple"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DPM++ 2M Karras", ("dpmpp_2m", "karras")),
        ("DPM++ 2M", ("dpmpp_2m", "normal")),
        ("Euler a", ("euler_ancestral", "normal")),
        ("Euler Beta", ("euler", "beta")),
        ("DPM++ 3M SDE Exponential", ("dpmpp_3m_sde", "exponential")),
        ("DPM++ 2M SGM Uniform", ("dpmpp_2m", "sgm_uniform")),
        ("DDIM", ("ddim", "ddim_uniform")),
        ("UniPC Karras", ("uni_pc", "karras")),
        ("LCM", ("lcm", "normal")),
    ],
)
def test_names_map_to_comfyui(name: str, expected: tuple[str, str]) -> None:
    assert comfy_sampler(name) == expected


def test_every_studio_scheduler_maps_to_comfyui_names_or_is_refused_clearly() -> None:
    refused = []
    for name in SCHEDULER_NAMES:
        try:
            sampler, scheduler = comfy_sampler(name)
        except Unsupported as exc:
            assert name in str(exc) and "choose another" in str(exc)
            refused.append(name)
            continue
        assert sampler in COMFY_SAMPLERS and scheduler in COMFY_SCHEDULERS, name
    assert refused == ["PNDM", "TCD"]


def test_a_sampler_the_server_lacks_is_an_input_problem() -> None:
    with pytest.raises(Unsupported, match="no sampler 'dpmpp_3m_sde'"):
        check_offered("DPM++ 3M SDE", "dpmpp_3m_sde", "normal", ["euler"], ["normal"])
    with pytest.raises(Unsupported, match="no scheduler 'beta'"):
        check_offered("Euler Beta", "euler", "beta", ["euler"], ["normal"])
    check_offered("Euler", "euler", "normal", None, None)  # lists unknown: the server decides
