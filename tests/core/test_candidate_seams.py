"""The canvas's seam check works on the mask's box only and gives the whole image's figures."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.candidate_seams import SEAM_MARGIN, fix_candidate, measure_candidate, seam_crop
from studio.core.masks import composite
from studio.core.plan import plan
from studio.core.request import GenerationRequest, InpaintArea, MaskOptions, Mode
from studio.core.seams import COLOUR_BREAK_LIMIT, measure_plan_seam
from tests.core.pictures import photo


def _inpaint(shift: tuple[int, int, int], area: InpaintArea = InpaintArea.WHOLE_IMAGE):
    original = photo(320, 256)
    painted = Image.new("L", (320, 256), 0)
    painted.paste(255, (150, 110, 230, 180))
    request = GenerationRequest(
        mode=Mode.INPAINT,
        init_image=Image.fromarray(original),
        mask=painted,
        mask_options=MaskOptions(feather=4, area=area),
        width=64,
        height=64,
    )
    p = plan(request)
    rng = np.random.default_rng(0)
    generated = np.clip(original.astype(int) + shift + rng.normal(0, 3, original.shape), 0, 255)
    assert p.image is not None and p.mask is not None
    result = composite(p.image, Image.fromarray(generated.astype(np.uint8)), p.mask)
    return p, np.asarray(result)


@pytest.mark.parametrize("area", [InpaintArea.WHOLE_IMAGE, InpaintArea.ONLY_MASKED])
def test_the_cropped_measure_equals_the_whole_images(area: InpaintArea) -> None:
    p, result = _inpaint((35, 5, -25), area)
    box = seam_crop(p)
    assert box is not None and (box[2] - box[0]) * (box[3] - box[1]) < 0.5 * 320 * 256
    cropped, whole = measure_candidate(p, result), measure_plan_seam(p, Image.fromarray(result))
    assert cropped is not None and cropped.flagged and whole.flagged
    assert cropped.colour_break == pytest.approx(whole.colour_break, abs=0.05)
    assert cropped.gradient_break == pytest.approx(whole.gradient_break, abs=0.05)
    assert cropped.worst_box == whole.worst_box  # in the result's pixels
    assert cropped.boundary_px == whole.boundary_px


def test_the_fix_lowers_the_measure_and_keeps_every_kept_pixel() -> None:
    p, result = _inpaint((35, 5, -25))
    fixed = fix_candidate(p, result)
    after = measure_candidate(p, fixed)
    assert after is not None and not after.flagged and after.colour_break < COLOUR_BREAK_LIMIT / 4
    kept = np.asarray(p.mask) == 0
    assert np.array_equal(fixed[kept], result[kept]) and not np.array_equal(fixed, result)


def test_a_plan_without_a_mask_has_no_seam() -> None:
    p = plan(GenerationRequest(width=64, height=64))
    result = np.zeros((64, 64, 3), np.uint8)
    assert seam_crop(p) is None and measure_candidate(p, result) is None
    assert np.array_equal(fix_candidate(p, result), result)


def test_the_crop_reaches_the_margin_around_the_mask() -> None:
    p, _ = _inpaint((0, 0, 0))
    box, bbox = seam_crop(p), p.mask.getbbox() if p.mask is not None else None
    assert box is not None and bbox is not None
    assert (bbox[0] - box[0], bbox[1] - box[1]) == (SEAM_MARGIN, SEAM_MARGIN)
