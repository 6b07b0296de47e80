"""plan(): the one place a job's geometry and effective mask are decided, for every mode."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.geometry import crop_box_for_mask, outpaint_canvas
from studio.core.masks import effective_mask
from studio.core.plan import generation_size, plan
from studio.core.request import (
    MAX_SIDE,
    GenerationRequest,
    InpaintArea,
    MaskOptions,
    Mode,
    OutpaintOptions,
    check_request,
)


def _picture(size: tuple[int, int] = (200, 120), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB").convert(mode)


def _mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def test_txt2img_generates_the_requested_size() -> None:
    p = plan(GenerationRequest(width=96, height=64, steps=12, batch=3))
    assert (p.mode, p.total_steps, p.batch) == (Mode.TXT2IMG, 12, 3)
    assert p.generation_size == p.result_size == p.source_size == (96, 64)
    assert p.region == p.region_in_source == (0, 0, 96, 64) and p.origin == (0, 0)
    assert p.image is None and p.mask is None and p.margins == (0, 0, 0, 0)


def test_img2img_resizes_the_input_and_shortens_the_steps() -> None:
    picture = _picture((80, 48), "RGBA")
    p = plan(
        GenerationRequest(mode=Mode.IMG2IMG, init_image=picture, width=64, height=64, steps=20, strength=0.6)
    )
    assert p.total_steps == 12 and p.source_size == (80, 48)
    assert p.result_size == p.generation_size == (64, 64) and p.region == (0, 0, 64, 64)
    assert p.image is not None and p.image.mode == "RGB" and p.image.size == (64, 64)
    assert p.mask is None


def test_inpaint_whole_image_keeps_the_input_and_uses_the_effective_mask() -> None:
    picture, mask = _picture(mode="RGBA"), _mask((200, 120), (50, 40, 90, 70))
    opts = MaskOptions(grow=3, feather=2)
    request = GenerationRequest(
        mode=Mode.INPAINT, init_image=picture, mask=mask, mask_options=opts, width=64, height=64
    )
    p = plan(request)
    assert p.image is picture  # composited onto as given, RGBA kept
    assert p.mask == effective_mask(mask, 3, 2)  # grow then feather: what composite uses
    assert p.result_size == p.source_size == (200, 120) and p.origin == (0, 0)
    assert p.region == p.region_in_source == (0, 0, 200, 120)
    w, h = p.generation_size
    assert (
        w % 8 == 0 and h % 8 == 0 and abs(w * h - 64 * 64) < 0.2 * 64 * 64 and w > h
    )  # the area, the aspect
    assert p.total_steps == request.denoising_steps == 15


def test_inpaint_only_masked_crops_around_the_effective_mask() -> None:
    picture, mask = _picture(), _mask((200, 120), (150, 10, 170, 30))
    opts = MaskOptions(grow=2, feather=2, area=InpaintArea.ONLY_MASKED, padding=8)
    p = plan(GenerationRequest(mode=Mode.INPAINT, init_image=picture, mask=mask, mask_options=opts))
    eff = effective_mask(mask, 2, 2)
    assert p.region == crop_box_for_mask(eff, 8, (200, 120), target_aspect=1.0)
    left, top, right, bottom = p.region
    bbox = eff.getbbox()
    assert bbox is not None and left <= bbox[0] and top <= bbox[1] and right >= bbox[2] and bottom >= bbox[3]
    assert (right - left, bottom - top) != (200, 120) and p.region_in_source == p.region
    assert p.generation_size == generation_size((right - left, bottom - top), 512 * 512)
    assert p.result_size == (200, 120)


@pytest.mark.parametrize("area", list(InpaintArea))
def test_outpaint_grows_the_image_and_places_the_result(area: InpaintArea) -> None:
    picture = _picture((64, 48))
    sides = OutpaintOptions(left=16, right=8, top=0, bottom=24, overlap=8)
    opts = MaskOptions(feather=2, area=area, padding=4)
    request = GenerationRequest(
        mode=Mode.OUTPAINT, init_image=picture, outpaint=sides, mask_options=opts, seed=9
    )
    p = plan(request)
    extended, mask, box = outpaint_canvas(picture, sides, "telea", seed=9, feather=2)
    assert p.image == extended and p.mask == mask
    assert p.result_size == (88, 72) and p.source_size == (64, 48)
    assert p.origin == (-box[0], -box[1]) == (-16, 0) and p.margins == (16, 0, 8, 24)
    if area is InpaintArea.WHOLE_IMAGE:
        assert p.region == (0, 0, 88, 72) and p.region_in_source == (-16, 0, 72, 72)
    else:
        left, top, right, bottom = p.region
        assert p.region_in_source == (left - 16, top, right - 16, bottom)
    assert plan(request) == p  # deterministic: the engine and the canvas get the same plan


def test_a_mask_shrunk_to_nothing_cannot_be_planned() -> None:
    picture, mask = _picture(), _mask((200, 120), (10, 10, 14, 14))
    request = GenerationRequest(
        mode=Mode.INPAINT, init_image=picture, mask=mask, mask_options=MaskOptions(grow=-4, feather=0)
    )
    request.validate()
    with pytest.raises(ValueError, match="empty after shrinking"):
        plan(request)


def test_generation_size_keeps_within_the_limits() -> None:
    assert generation_size((100, 100), 64 * 64) == (64, 64)
    w, h = generation_size((8000, 10), 2048 * 2048)
    assert w == MAX_SIDE and h >= 16


def test_check_request_normalizes_once_and_explains_problems() -> None:
    picture = _picture((64, 64))
    raw = GenerationRequest(
        mode="img2img",  # type: ignore[arg-type]
        init_image=picture,
        preview="latent",  # type: ignore[arg-type]
        mask_options=MaskOptions(area="masked", fill="blur"),  # type: ignore[arg-type]
        width=64,
        height=64,
    )
    checked = check_request(raw)
    assert checked.mode is Mode.IMG2IMG and checked.preview.value == "latent"
    assert checked.mask_options.area is InpaintArea.ONLY_MASKED
    with pytest.raises(ValueError, match="unknown option"):
        check_request(raw.replace(mode="sketch"))
    with pytest.raises(ValueError, match="no denoising step"):
        check_request(raw.replace(steps=3, strength=0.2))
    with pytest.raises(ValueError, match="multiple of 8"):
        check_request(raw.replace(width=65))
