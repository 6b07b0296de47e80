"""Request validation: every rule in studio.core.request gives a message a person can act on."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.request import (
    MAX_SEED,
    GenerationRequest,
    LoraRef,
    MaskOptions,
    Mode,
    OutpaintOptions,
    round_to_multiple_of_8,
)


def _image(w: int = 64, h: int = 64) -> Image.Image:
    return Image.new("RGB", (w, h), (10, 20, 30))


def _mask(w: int = 64, h: int = 64, box: tuple[int, int, int, int] | None = (8, 8, 24, 24)) -> Image.Image:
    m = Image.new("L", (w, h), 0)
    if box:
        m.paste(255, box)
    return m


def _inpaint(**kw: object) -> GenerationRequest:
    return GenerationRequest(mode=Mode.INPAINT, init_image=_image(), mask=_mask()).replace(**kw)


def _invalid(request: GenerationRequest, *fragments: str) -> None:
    with pytest.raises(ValueError) as info:
        request.validate()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message


def test_defaults_and_complete_modes_are_valid() -> None:
    GenerationRequest().validate()
    GenerationRequest(mode=Mode.IMG2IMG, init_image=_image()).validate()
    _inpaint().validate()
    GenerationRequest(mode=Mode.OUTPAINT, init_image=_image(), outpaint=OutpaintOptions(left=64)).validate()


@pytest.mark.parametrize(("width", "rounded"), [(513, 512), (517, 520), (1001, 1000), (100, 104), (108, 112)])
def test_size_not_multiple_of_8_names_rounded_value(width: int, rounded: int) -> None:
    _invalid(GenerationRequest(width=width), "Width", str(width), "multiple of 8", f"use {rounded}")
    _invalid(GenerationRequest(height=width), "Height", f"use {rounded}")
    assert round_to_multiple_of_8(width) == rounded


@pytest.mark.parametrize("value", [8, 4104, 0])
def test_size_range(value: int) -> None:
    _invalid(GenerationRequest(width=value), "Width must be between 16 and 4096", str(value))


def test_size_must_be_whole_number() -> None:
    _invalid(GenerationRequest(height=512.0), "Height must be a whole number")  # type: ignore[arg-type]


@pytest.mark.parametrize("steps", [0, 151, -3])
def test_steps_range(steps: int) -> None:
    _invalid(GenerationRequest(steps=steps), "Steps must be between 1 and 150", str(steps))


@pytest.mark.parametrize("steps", [20.5, "20", True])
def test_steps_whole_number(steps: object) -> None:
    _invalid(GenerationRequest(steps=steps), "Steps must be a whole number")  # type: ignore[arg-type]


@pytest.mark.parametrize("guidance", [-0.5, 30.5, float("nan")])
def test_guidance_range(guidance: float) -> None:
    _invalid(GenerationRequest(guidance=guidance), "Guidance (CFG scale) must be between 0 and 30")


@pytest.mark.parametrize("strength", [-0.1, 1.01])
def test_strength_range(strength: float) -> None:
    _invalid(GenerationRequest(strength=strength), "Strength must be between 0 and 1")


@pytest.mark.parametrize("mode", [Mode.IMG2IMG, Mode.INPAINT])
def test_zero_strength_changes_nothing(mode: Mode) -> None:
    _invalid(_inpaint(mode=mode, strength=0.0), "Strength is 0", "raise it")
    GenerationRequest(strength=0.0).validate()  # txt2img ignores strength


@pytest.mark.parametrize("batch", [0, 17, 2.5])
def test_batch(batch: object) -> None:
    _invalid(GenerationRequest(batch=batch), "Batch size")  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, "7"])
def test_seed_range(seed: object) -> None:
    _invalid(GenerationRequest(seed=seed), "Seed must be a whole number from 0 to 4294967295")  # type: ignore[arg-type]


def test_seed_edges_valid_and_batch_seeds_wrap() -> None:
    GenerationRequest(seed=0).validate()
    GenerationRequest(seed=MAX_SEED).validate()
    assert GenerationRequest(seed=MAX_SEED, batch=3).seeds() == [MAX_SEED, 0, 1]


@pytest.mark.parametrize("interval", [0, 151, 1.5])
def test_preview_interval(interval: object) -> None:
    _invalid(GenerationRequest(preview_interval=interval), "Preview interval")  # type: ignore[arg-type]


def test_unknown_scheduler_lists_choices() -> None:
    _invalid(GenerationRequest(scheduler="Restart"), "Unknown scheduler 'Restart'", "Euler a", "DDIM")


@pytest.mark.parametrize("mode", [Mode.IMG2IMG, Mode.INPAINT, Mode.OUTPAINT])
def test_image_modes_need_an_image(mode: Mode) -> None:
    _invalid(GenerationRequest(mode=mode), f"{mode.value} needs an input image")


def test_empty_image() -> None:
    _invalid(GenerationRequest(mode=Mode.IMG2IMG, init_image=_image(0, 0)), "input image is empty")


def test_mask_missing() -> None:
    _invalid(_inpaint(mask=None), "Inpainting needs a mask")


def test_mask_wrong_size_names_both_sizes() -> None:
    _invalid(_inpaint(mask=_mask(32, 48)), "32x48", "64x64", "same size")


def test_mask_empty() -> None:
    _invalid(_inpaint(mask=_mask(box=None)), "The mask is empty")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (MaskOptions(grow=300), "Mask grow"),
        (MaskOptions(grow=-300), "Mask grow"),
        (MaskOptions(feather=-1), "Mask feather"),
        (MaskOptions(feather=300), "Mask feather"),
        (MaskOptions(padding=2000), "Mask padding"),
        (MaskOptions(grow=2.5), "Mask grow"),  # type: ignore[arg-type]
    ],
)
def test_mask_options(options: MaskOptions, fragment: str) -> None:
    _invalid(_inpaint(mask_options=options), fragment)


def test_outpaint_needs_a_side() -> None:
    r = GenerationRequest(mode=Mode.OUTPAINT, init_image=_image(), outpaint=OutpaintOptions())
    _invalid(r, "at least one side")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (OutpaintOptions(left=-8), "Outpaint left"),
        (OutpaintOptions(bottom=4096), "Outpaint bottom"),
        (OutpaintOptions(top=64, overlap=300), "Outpaint overlap"),
        (OutpaintOptions(right=10.5), "Outpaint right"),  # type: ignore[arg-type]
    ],
)
def test_outpaint_options(options: OutpaintOptions, fragment: str) -> None:
    _invalid(GenerationRequest(mode=Mode.OUTPAINT, init_image=_image(), outpaint=options), fragment)


def test_replace_keeps_frozen_original() -> None:
    r = GenerationRequest(prompt="a")
    r2 = r.replace(prompt="b")
    assert (r.prompt, r2.prompt) == ("a", "b")
    with pytest.raises(AttributeError):
        r.prompt = "c"  # type: ignore[misc]


# ---- the artist's own files (issue 13) ----


@pytest.mark.parametrize("clip_skip", [1, 2, 12])
def test_clip_skip_in_range_is_valid(clip_skip: int) -> None:
    GenerationRequest(clip_skip=clip_skip).validate()


@pytest.mark.parametrize("clip_skip", [0, 13, -1, 1.5, True])
def test_clip_skip_out_of_range_is_refused(clip_skip: object) -> None:
    with pytest.raises(ValueError, match="Clip skip") as info:
        GenerationRequest(clip_skip=clip_skip).validate()  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_lora_weights_within_ten_are_valid() -> None:
    GenerationRequest(loras=(LoraRef("ink", -10.0), LoraRef("paper", 10), LoraRef("x", 0.0))).validate()


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        (LoraRef("ink", 10.5), "between -10 and 10"),
        (LoraRef("ink", -11.0), "between -10 and 10"),
        (LoraRef("ink", float("nan")), "must be a number"),
        (LoraRef("ink", float("inf")), "must be a number"),
        (LoraRef("", 1.0), "has no name"),
        (LoraRef("  ", 1.0), "has no name"),
    ],
)
def test_bad_loras_are_refused_in_one_line(ref: LoraRef, words: str) -> None:
    with pytest.raises(ValueError, match=words) as info:
        GenerationRequest(loras=(ref,)).validate()
    assert "\n" not in str(info.value)
