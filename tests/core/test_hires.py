"""Hires fix options: checks with messages, the plan's sizes and steps, A1111 text and Studio JSON
round trips (A1111 text -> request -> text)."""

from __future__ import annotations

import pytest

from studio.core import metadata as md
from studio.core.a1111_text import format_a1111, parse_a1111
from studio.core.plan import plan
from studio.core.request import GenerationRequest, HiresOptions, Mode, check_request
from studio.core.request_io import apply_dict, request_to_dict

A1111_HIRES = (
    "a lighthouse at dusk\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1234, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5, Denoising strength: 0.45, Hires upscale: 1.5, Hires steps: 12, "
    "Hires upscaler: Latent (bicubic), Version: v1.10.1"
)


def _hires(**changes) -> HiresOptions:
    return HiresOptions(enabled=True, **changes)


def _meta(text: str) -> md.ImageMetadata:
    parsed = parse_a1111(text)
    prompt, negative = parsed.pop("prompt"), parsed.pop("negative_prompt")
    return md.ImageMetadata(prompt=prompt, negative_prompt=negative, settings=parsed, raw=text)


def test_plan_scales_the_result_and_counts_both_passes() -> None:
    request = GenerationRequest(
        width=512, height=768, steps=20, hires=_hires(scale=1.5, steps=12, denoise=0.45)
    )
    the_plan = plan(check_request(request))
    assert the_plan.result_size == (768, 1152) and the_plan.region == (0, 0, 768, 1152)
    assert the_plan.generation_size == (512, 768)  # the first pass
    assert the_plan.total_steps == 20 + 5  # int(12 x 0.45) as diffusers' img2img runs
    same_steps = plan(check_request(request.replace(hires=_hires(scale=2, denoise=0.5))))
    assert same_steps.total_steps == 20 + 10 and same_steps.result_size == (1024, 1536)


def test_sides_are_snapped_to_multiples_of_8() -> None:
    assert HiresOptions(scale=1.3).size(512, 504) == (664, 656)


def test_off_or_outside_txt2img_changes_nothing() -> None:
    off = plan(check_request(GenerationRequest(width=64, height=64, hires=HiresOptions(scale=2))))
    assert off.result_size == (64, 64) and off.total_steps == 20
    img2img = GenerationRequest(mode=Mode.IMG2IMG, width=64, height=64, hires=_hires(scale=2))
    assert not img2img.uses_hires and img2img.denoising_steps == 15


@pytest.mark.parametrize(
    ("hires", "message"),
    [
        (_hires(scale=5), "Hires upscale must be between 1 and 4"),
        (_hires(scale=0.5), "Hires upscale must be between 1 and 4"),
        (_hires(upscaler=""), "Unknown hires upscaler ''"),
        (_hires(denoise=1.5), "Hires denoising strength must be between 0 and 1"),
        (_hires(steps=-1), "Hires steps must be between 0 and 150"),
        (_hires(denoise=0.0), "the hires pass would run no step"),
        (_hires(scale=4), "sides are limited to 4096"),
    ],
)
def test_bad_options_are_refused_with_a_message(hires: HiresOptions, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_request(GenerationRequest(width=1536, height=512, hires=hires))


def test_a1111_text_to_request_and_back() -> None:
    notes: list[str] = []
    request = md.request_from_metadata(_meta(A1111_HIRES), GenerationRequest(), notes)
    assert request.hires == _hires(scale=1.5, upscaler="Latent (bicubic)", steps=12, denoise=0.45)
    assert (request.width, request.height) == (512, 768)  # the first pass's size
    assert request.strength == 0.75  # img2img's strength is not the hires pass's
    assert not any("Hires" in note or "Denoising" in note for note in notes), notes
    params = md.build_parameters(request, request.seed, "v1-5", "6ce0161689", size=(768, 1152))
    written = parse_a1111(format_a1111(params))
    original = parse_a1111(A1111_HIRES)
    for key in ("Size", "Denoising strength", "Hires upscale", "Hires steps", "Hires upscaler"):
        assert written[key] == original[key], key


def test_unknown_upscaler_keeps_the_current_one_and_says_so() -> None:
    notes: list[str] = []
    text = A1111_HIRES.replace("Latent (bicubic)", "R-ESRGAN 4x+")
    request = md.request_from_metadata(_meta(text), GenerationRequest(), notes)
    assert request.hires.enabled and request.hires.upscaler == "Latent" and request.hires.scale == 1.5
    assert any("'R-ESRGAN 4x+' is not available" in note for note in notes)


def test_an_image_without_hires_turns_it_off() -> None:
    text = "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512"
    request = md.request_from_metadata(_meta(text), GenerationRequest(hires=_hires(scale=2)), [])
    assert not request.hires.enabled and request.hires.scale == 2


def test_studio_json_round_trip_and_older_files_without_the_field() -> None:
    request = GenerationRequest(hires=_hires(scale=2.5, upscaler="Lanczos", steps=8, denoise=0.6))
    data = request_to_dict(request)
    assert data["hires"] == {"enabled": True, "scale": 2.5, "upscaler": "Lanczos", "steps": 8, "denoise": 0.6}
    notes: list[str] = []
    assert apply_dict(GenerationRequest(), data, notes).hires == request.hires and notes == []
    del data["hires"]
    assert apply_dict(GenerationRequest(), data, notes).hires == HiresOptions()
    bad = apply_dict(GenerationRequest(), {"hires": {"enabled": True, "scale": 9}}, notes)
    assert bad.hires == HiresOptions() and any("Hires upscale must be between" in n for n in notes)


def test_the_settings_file_remembers_the_hires_fix() -> None:
    import json

    from studio.core.settings import Settings, settings_from_dict, settings_to_dict

    hires = _hires(scale=1.5, upscaler="Nearest", steps=9, denoise=0.4)
    saved = settings_to_dict(Settings(last_request=GenerationRequest(hires=hires)))
    loaded = settings_from_dict(json.loads(json.dumps(saved)))
    assert loaded.last_request is not None and loaded.last_request.hires == hires


def test_a_scale_that_is_not_a_number_is_refused_and_sizes_nothing() -> None:
    nan = _hires(scale=float("nan"))
    assert nan.size(64, 48) == (64, 48)
    with pytest.raises(ValueError, match="Hires upscale must be a number"):
        check_request(GenerationRequest(hires=nan))
