"""Geometry: mask boxes, crop-to-mask boxes at borders, snapping, outpaint canvases."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core import geometry
from studio.core.masks import composite
from studio.core.plan import plan
from studio.core.request import GenerationRequest, InpaintArea, MaskOptions, Mode, OutpaintOptions


def _mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    m = Image.new("L", size, 0)
    m.paste(255, box)
    return m


def _contains(outer: tuple[int, int, int, int], inner: tuple[int, int, int, int]) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def test_mask_bbox() -> None:
    assert geometry.mask_bbox(Image.new("L", (10, 10))) is None
    assert geometry.mask_bbox(_mask((100, 80), (10, 20, 30, 25))) == (10, 20, 30, 25)


def test_crop_box_in_the_middle_is_padded_and_multiple_of_8() -> None:
    box = geometry.crop_box_for_mask(_mask((512, 512), (200, 210, 233, 250)), 16, (512, 512))
    w, h = box[2] - box[0], box[3] - box[1]
    assert w % 8 == 0 and h % 8 == 0
    assert _contains(box, (184, 194, 249, 266))  # bbox + padding
    assert w <= 33 + 32 + 8 and h <= 40 + 32 + 8


@pytest.mark.parametrize(
    "mbox",
    [(0, 0, 5, 5), (507, 0, 512, 7), (0, 380, 9, 384), (500, 370, 512, 384), (0, 0, 512, 384)],
)
def test_crop_box_at_borders_is_clamped(mbox: tuple[int, int, int, int]) -> None:
    box = geometry.crop_box_for_mask(_mask((512, 384), mbox), 32, (512, 384))
    assert box[0] >= 0 and box[1] >= 0 and box[2] <= 512 and box[3] <= 384
    assert _contains(box, mbox)
    assert (box[2] - box[0]) % 8 == 0 and (box[3] - box[1]) % 8 == 0


def test_crop_box_when_image_is_not_a_multiple_of_8() -> None:
    box = geometry.crop_box_for_mask(_mask((101, 50), (0, 0, 100, 10)), 4, (101, 50))
    assert box[0] == 0 and box[2] == 101  # cannot round 101 up within the image: whole width
    assert (box[3] - box[1]) % 8 == 0


def test_crop_box_grows_toward_target_aspect() -> None:
    box = geometry.crop_box_for_mask(_mask((1024, 1024), (500, 100, 520, 900)), 0, (1024, 1024), 8, 1.0)
    w, h = box[2] - box[0], box[3] - box[1]
    assert w == h == 800
    assert _contains(box, (500, 100, 520, 900))
    narrow = geometry.crop_box_for_mask(_mask((300, 1000), (100, 0, 120, 1000)), 0, (300, 1000), 8, 1.0)
    assert narrow[0] == 0 and narrow[2] == 296  # as wide as the image allows (multiple of 8)


def test_crop_box_empty_mask_is_whole_image() -> None:
    assert geometry.crop_box_for_mask(Image.new("L", (64, 48)), 8, (64, 48)) == (0, 0, 64, 48)


def test_snap_helpers() -> None:
    assert geometry.snap(515) == 512 and geometry.snap(517) == 520
    assert geometry.snap(513, mode="up") == 520 and geometry.snap(519, mode="down") == 512
    assert geometry.snap(1) == 8
    assert geometry.snap_size((100, 61)) == (104, 64)


def test_scale_to_fit_keeps_aspect_and_area() -> None:
    w, h = geometry.scale_to_fit((1920, 1080), 512 * 512)
    assert w % 8 == 0 and h % 8 == 0
    assert abs(w / h - 16 / 9) < 0.03
    assert abs(w * h - 512 * 512) / (512 * 512) < 0.05
    with pytest.raises(ValueError):
        geometry.scale_to_fit((0, 10), 100)


def test_aspect_presets() -> None:
    presets = dict(geometry.aspect_presets(512 * 512))
    assert presets["1:1"] == (512, 512)
    assert set(presets) == {"1:1", "4:3", "3:2", "16:9", "2:3", "9:16"}
    for label, (w, h) in presets.items():
        rw, rh = map(int, label.split(":"))
        assert w % 8 == 0 and h % 8 == 0
        assert abs(w / h - rw / rh) < 0.05
    assert presets["16:9"] == presets["9:16"][::-1]


@pytest.mark.parametrize("fill", geometry.OUTPAINT_FILLS)
@pytest.mark.parametrize(
    "sides", [(0, 37, 0, 0), (64, 0, 13, 0), (0, 0, 0, 100), (5, 6, 7, 9), (128, 128, 128, 128)]
)
def test_outpaint_canvas_size_exact_and_original_kept(fill: str, sides: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = sides
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), mode="RGB")
    opts = OutpaintOptions(left=left, top=top, right=right, bottom=bottom, overlap=8)
    ext, mask, box = geometry.outpaint_canvas(img, opts, fill=fill)
    assert ext.size == (70 + left + right, 50 + top + bottom)
    assert mask.size == ext.size and mask.mode == "L"
    assert box == (left, top, left + 70, top + 50)
    assert np.array_equal(np.asarray(ext.crop(box)), np.asarray(img))
    m = np.asarray(mask)
    new_area = np.ones(m.shape, bool)
    new_area[top : top + 50, left : left + 70] = False
    assert (m[new_area] == 255).all()
    inner = m[top : top + 50, left : left + 70]
    # overlap band only along extended sides
    assert (inner[:, :8] == 255).all() == bool(left)
    assert (inner[:, -8:] == 255).all() == bool(right)
    assert (inner[:8, :] == 255).all() == bool(top)
    assert (inner[-8:, :] == 255).all() == bool(bottom)
    assert (inner[8:-8, 8:-8] == 0).all()


def test_outpaint_stretch_fill_continues_edge_colours() -> None:
    img = Image.new("RGB", (40, 40), (200, 30, 30))
    img.paste((20, 20, 220), (20, 0, 40, 40))  # right half blue
    ext, _, _ = geometry.outpaint_canvas(img, OutpaintOptions(left=60, right=60), fill="stretch")
    a = np.asarray(ext).astype(int)
    assert a[20, 5, 0] > 150 and a[20, 5, 2] < 80  # far left is red-ish
    assert a[20, 150, 2] > 150 and a[20, 150, 0] < 80  # far right is blue-ish
    assert a[:, :40].std(axis=(0, 1)).max() > 1  # slight noise, not a flat fill


def test_outpaint_rejects_unknown_fill() -> None:
    with pytest.raises(ValueError, match="fill"):
        geometry.outpaint_canvas(Image.new("RGB", (8, 8)), OutpaintOptions(left=8), fill="magic")


def _depth_into_original(shape: tuple[int, int], sides: tuple[int, int, int, int]) -> np.ndarray:
    """Per original pixel: px from the nearest side the image grew on (large where none)."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w]
    far = np.full((h, w), 10**6)
    left, top, right, bottom = sides
    return np.minimum.reduce(
        [x if left else far, y if top else far, w - 1 - x if right else far, h - 1 - y if bottom else far]
    )


@pytest.mark.parametrize("overlap", [0, 1, 8, 16])
@pytest.mark.parametrize("feather", [0, 4, 8, 40])
@pytest.mark.parametrize("sides", [(24, 0, 0, 0), (0, 16, 8, 0), (16, 8, 24, 32)])
@pytest.mark.parametrize("area", list(InpaintArea))
def test_outpaint_overlap_contract_is_exact_through_the_plan_and_composite(
    overlap: int, feather: int, sides: tuple[int, int, int, int], area: InpaintArea
) -> None:
    """`overlap` N: the original changes at most N px deep, feather included; N = 0 keeps it whole."""
    rng = np.random.default_rng(overlap + feather)
    picture = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    request = GenerationRequest(
        mode=Mode.OUTPAINT,
        init_image=Image.fromarray(picture),
        outpaint=OutpaintOptions(
            left=sides[0], top=sides[1], right=sides[2], bottom=sides[3], overlap=overlap
        ),
        mask_options=MaskOptions(grow=12, feather=feather, area=area),  # grow does not widen it
        width=64,
        height=64,
    )
    p = plan(request)
    assert p.image is not None and p.mask is not None
    generated = Image.fromarray(255 - np.asarray(p.image))  # every pixel differs from the input
    result = np.asarray(composite(p.image, generated, p.mask))
    left, top = sides[0], sides[1]
    back = result[top : top + 60, left : left + 80]
    changed = (back != picture).any(axis=-1)
    depth = _depth_into_original((60, 80), sides)
    assert not changed[depth >= overlap].any()  # bit-exact beyond the band
    assert changed[depth < min(overlap, 1)].all()  # the first row/column of the band is regenerated
    new_area = np.ones(result.shape[:2], bool)
    new_area[top : top + 60, left : left + 80] = False
    assert (np.asarray(p.mask)[new_area] == 255).all()


def test_outpaint_feather_ramps_smoothly_inside_the_band() -> None:
    mask = np.asarray(geometry.outpaint_mask((100, 50), (20, 0, 100, 50), overlap=16, feather=4))
    row = mask[25, 20:60].astype(int)  # depth 0, 1, 2, ... into the original
    assert (np.diff(row) <= 0).all()  # never rises with depth
    assert (row[:8] == 255).all() and 0 < row[15] < 64 and (row[16:] == 0).all()
    assert 100 < row[12] < 200  # half way down the 8 px ramp
    assert (mask[:, :20] == 255).all()
    hard = np.asarray(geometry.outpaint_mask((100, 50), (20, 0, 100, 50), overlap=16, feather=0))
    assert (hard[:, 20:36] == 255).all() and (hard[:, 36:] == 0).all()
