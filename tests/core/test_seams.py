"""Seam check: a mismatched join is flagged, the fix lowers it, a good one passes (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.masks import composite, effective_mask
from studio.core.plan import plan
from studio.core.request import GenerationRequest, MaskOptions, Mode, OutpaintOptions
from studio.core.seams import (
    COLOUR_BREAK_LIMIT,
    GRADIENT_BREAK_LIMIT,
    SeamReport,
    blend_plan_seam,
    blend_seam,
    measure_plan_seam,
    measure_seam,
    seam_band_mask,
)
from tests.core.pictures import photo

MISMATCH = (35, 5, -25)  # a warm cast on the generated side: ΔE ≈ 18 at a hard edge


def _inpaint_composite(
    shift: tuple[int, int, int], feather: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(result, original, effective mask) of an inpaint whose generated side is the original with a
    colour `shift` and fresh grain."""
    original = photo(256, 256)
    painted = Image.new("L", (256, 256), 0)
    painted.paste(255, (64, 80, 200, 190))
    mask = np.asarray(effective_mask(painted, 0, feather))
    rng = np.random.default_rng(feather)
    generated = np.clip(original.astype(int) + shift + rng.normal(0, 3, original.shape), 0, 255)
    result = composite(
        Image.fromarray(original), Image.fromarray(generated.astype(np.uint8)), Image.fromarray(mask)
    )
    return np.asarray(result), original, mask


@pytest.mark.parametrize("feather", [0, 4])
def test_a_mismatched_join_is_flagged_and_the_fix_lowers_it_below_the_limit(feather: int) -> None:
    result, original, mask = _inpaint_composite(MISMATCH, feather)
    before = measure_seam(result, original, mask)
    assert before.flagged and before.colour_break > 2 * COLOUR_BREAK_LIMIT
    assert "(visible)" in before.summary()
    left, top, right, bottom = before.worst_box or (0, 0, 0, 0)
    assert left < right and top < bottom
    fixed = blend_seam(result, original, mask)
    after = measure_seam(fixed, original, mask)
    assert not after.flagged and after.colour_break < COLOUR_BREAK_LIMIT / 4
    assert after.gradient_break < GRADIENT_BREAK_LIMIT
    # only the generated side changed: every pixel the mask keeps is byte-identical
    assert np.array_equal(fixed[mask == 0], result[mask == 0])
    assert not np.array_equal(fixed, result)


@pytest.mark.parametrize("feather", [0, 4, 8])
def test_a_good_composite_is_not_flagged(feather: int) -> None:
    result, original, mask = _inpaint_composite((0, 0, 0), feather)
    report = measure_seam(result, original, mask)
    assert not report.flagged and report.colour_break < 1.0 and report.gradient_break < 1.5
    assert (
        report.summary()
        == f"seam: colour {report.colour_break:.1f}, gradient {report.gradient_break:.1f}× (ok)"
    )


def test_an_edge_the_picture_already_had_is_not_a_seam() -> None:
    original = photo(128, 128)
    original[32:96, 32:96] = (30, 30, 120)  # a hard-edged dark square, masked exactly
    mask = np.zeros((128, 128), bool)
    mask[32:96, 32:96] = True
    report = measure_seam(original.copy(), original, mask)
    assert not report.flagged and report.colour_break < 0.5
    against_a_plain_picture = measure_seam(original, photo(128, 128), mask)
    assert against_a_plain_picture.flagged  # the same edge, new in the result: a seam


def test_a_dark_outline_along_the_join_is_flagged_by_the_gradient() -> None:
    original = photo(128, 128)
    mask = np.zeros((128, 128), np.uint8)
    mask[:, 64:] = 255
    result = original.copy()
    result[:, 64:66] = original[:, 64:66] // 2  # a thin dark line where the generated side starts
    report = measure_seam(result, original, mask)
    assert report.gradient_break > GRADIENT_BREAK_LIMIT and report.flagged
    assert report.worst_box is not None and report.worst_box[0] < 64 < report.worst_box[2]
    assert not measure_seam(original, original, mask).flagged


def test_the_outpaint_seam_through_the_plan_and_its_fix() -> None:
    picture = photo(192, 160)
    request = GenerationRequest(
        mode=Mode.OUTPAINT,
        init_image=Image.fromarray(picture),
        outpaint=OutpaintOptions(left=48, right=48, overlap=16),
        mask_options=MaskOptions(feather=4),
        width=64,
        height=64,
    )
    p = plan(request)
    assert p.image is not None and p.mask is not None
    image, mask = np.asarray(p.image), np.asarray(p.mask)
    generated = np.clip(image.astype(int) + MISMATCH, 0, 255).astype(np.uint8)
    result = np.asarray(composite(p.image, Image.fromarray(generated), p.mask))
    before = measure_seam(result, image, mask)
    assert before.flagged
    fixed = blend_seam(result, image, mask)
    after = measure_seam(fixed, image, mask)
    assert not after.flagged and after.colour_break < before.colour_break / 4
    kept = mask == 0
    assert np.array_equal(fixed[kept], image[kept])  # the original beyond the overlap is untouched


def test_no_boundary_no_seam() -> None:
    picture = photo(32, 32)
    for mask in (np.zeros((32, 32), np.uint8), np.full((32, 32), 255, np.uint8)):
        report = measure_seam(picture, picture, mask)
        assert report == SeamReport(0.0, 1.0, 4, None, False, 0)
        assert report.summary() == "seam: none (the mask has no edge inside the image)"
        assert np.array_equal(blend_seam(picture, picture, mask), picture)
        assert not seam_band_mask(mask).any()


def test_seam_band_mask_covers_the_join_only() -> None:
    mask = np.zeros((64, 64), np.uint8)
    mask[:, 32:] = 255
    band = seam_band_mask(mask, width=6)
    assert band.dtype == np.uint8 and set(np.unique(band)) == {0, 255}
    columns = np.flatnonzero(band[10] == 255)
    assert columns.min() == 32 - 6 and columns.max() == 32 + 5
    assert (band == band[:1]).all()  # the same on every row


def test_bad_input_gets_a_clear_message() -> None:
    picture = photo(32, 32)
    with pytest.raises(ValueError, match="same size"):
        measure_seam(picture, picture, np.zeros((16, 16), np.uint8))
    with pytest.raises(ValueError, match="8-bit RGB"):
        blend_seam(picture.astype(np.float32), picture, np.zeros((32, 32), np.uint8))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single-channel"):
        seam_band_mask(picture)


def test_plan_helpers_measure_and_fix_an_rgba_inpaint_keeping_its_mode_and_alpha() -> None:
    rgba = np.dstack([photo(160, 128), np.linspace(80, 255, 160 * 128).reshape(128, 160).astype(np.uint8)])
    picture = Image.fromarray(rgba, "RGBA")
    painted = Image.new("L", picture.size, 0)
    painted.paste(255, (40, 30, 120, 100))
    request = GenerationRequest(
        mode=Mode.INPAINT, init_image=picture, mask=painted, mask_options=MaskOptions(feather=3)
    )
    p = plan(request)
    assert p.image is not None and p.mask is not None
    shifted = np.clip(rgba.astype(int) + (*MISMATCH, 0), 0, 255).astype(np.uint8)
    result = composite(p.image, Image.fromarray(shifted, "RGBA"), p.mask)
    before = measure_plan_seam(p, result)
    assert before.flagged
    fixed = blend_plan_seam(p, result)
    assert fixed.mode == "RGBA" and fixed.size == result.size
    assert np.array_equal(np.asarray(fixed)[..., 3], np.asarray(result)[..., 3])
    kept = np.asarray(p.mask) == 0
    assert np.array_equal(np.asarray(fixed)[kept], np.asarray(result)[kept])
    assert measure_plan_seam(p, fixed).colour_break < COLOUR_BREAK_LIMIT / 4
    with pytest.raises(ValueError, match="inpaint or outpaint"):
        measure_plan_seam(plan(GenerationRequest(width=64, height=64)), result)
