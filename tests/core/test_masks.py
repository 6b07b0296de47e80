"""Masks: grow/shrink, feather, composite identity outside the mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core import masks
from studio.core.request import MaskedContent


def _square_mask(size: int = 64, box: tuple[int, int, int, int] = (24, 24, 40, 40)) -> Image.Image:
    arr = np.zeros((size, size), np.uint8)
    left, top, right, bottom = box
    arr[top:bottom, left:right] = 255
    return Image.fromarray(arr, mode="L")


def _random_rgb(rng: np.random.Generator, w: int, h: int, mode: str = "RGB") -> Image.Image:
    channels = len(mode)
    return Image.fromarray(rng.integers(0, 256, (h, w, channels), dtype=np.uint8), mode=mode)


def test_to_mask_array_range_and_alpha() -> None:
    arr = masks.to_mask_array(_square_mask())
    assert arr.dtype == np.float32 and arr.shape == (64, 64)
    assert arr.min() == 0.0 and arr.max() == 1.0
    rgba = Image.new("RGBA", (8, 8), (255, 255, 255, 0))
    rgba.putpixel((2, 3), (255, 255, 255, 255))
    alpha = masks.to_mask_array(rgba)
    assert alpha[3, 2] == 1.0 and alpha.sum() == 1.0
    assert masks.from_mask_array(alpha).getpixel((2, 3)) == 255


def test_grow_dilates_by_exactly_px_along_axes() -> None:
    grown = np.asarray(masks.grow_mask(_square_mask(), 5))
    assert grown[30, 24 - 5] == 255 and grown[30, 24 - 6] == 0
    assert grown[40 + 4, 30] == 255 and grown[40 + 5, 30] == 0
    # the brush is round-ish: the far corner is not reached
    assert grown[24 - 5, 24 - 5] == 0
    assert (grown[24:40, 24:40] == 255).all()


def test_shrink_erodes_and_keeps_border_masks() -> None:
    shrunk = np.asarray(masks.grow_mask(_square_mask(), -3))
    assert shrunk[24 + 3, 30] == 255 and shrunk[24 + 2, 30] == 0
    assert shrunk.sum() < np.asarray(_square_mask()).sum()
    border = _square_mask(box=(0, 0, 64, 10))  # outpaint-style band along the top edge
    eroded = np.asarray(masks.grow_mask(border, -3))
    assert eroded[0, 30] == 255 and eroded[6, 30] == 255 and eroded[7, 30] == 0


def test_grow_zero_and_empty_are_noops() -> None:
    m = _square_mask()
    assert np.array_equal(np.asarray(masks.grow_mask(m, 0)), np.asarray(m))
    empty = Image.new("L", (32, 32), 0)
    assert masks.is_empty(masks.grow_mask(empty, 10))


def test_grow_huge_radius_covers_image() -> None:
    grown = masks.grow_mask(_square_mask(), 200)
    assert np.asarray(grown).min() == 255


def test_feather_softens_edges_only() -> None:
    m = _square_mask()
    soft = np.asarray(masks.feather_mask(m, 3))
    assert soft[32, 32] > 245 and soft[0, 0] == 0
    assert 0 < soft[32, 24] < 255
    assert np.array_equal(np.asarray(masks.feather_mask(m, 0)), np.asarray(m))


def test_effective_mask_is_grow_then_feather() -> None:
    m = _square_mask()
    eff = np.asarray(masks.effective_mask(m, grow=4, feather=2))
    expected = np.asarray(masks.feather_mask(masks.grow_mask(m, 4), 2))
    assert np.array_equal(eff, expected)
    assert eff[32, 24 - 4] > 100  # grown area is inside the mask


def test_binarize_and_is_empty() -> None:
    m = Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8), mode="L")
    assert np.asarray(masks.binarize(m)).ravel().tolist() == [0, 0, 255, 255]
    assert masks.is_empty(None)
    assert masks.is_empty(Image.new("L", (4, 4)))
    assert not masks.is_empty(m)


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_composite_is_byte_identical_where_effective_mask_is_zero(mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    original = _random_rgb(rng, 97, 75, mode)
    generated = _random_rgb(rng, 97, 75, mode)
    arr = np.zeros((75, 97), np.uint8)
    arr[:40, :50] = (rng.random((40, 50)) > 0.97).astype(np.uint8) * 255  # scattered dots
    arr[50:70, 60:90] = 255  # and a solid block
    raw = Image.fromarray(arr, mode="L")
    eff = masks.effective_mask(raw, grow=2, feather=3)
    out = masks.composite(original, generated, eff)
    assert out.mode == original.mode and out.size == original.size
    zero = np.asarray(eff) == 0
    assert zero.any() and (~zero).any()
    assert np.array_equal(np.asarray(out)[zero], np.asarray(original)[zero])
    full = np.asarray(eff) == 255
    assert np.array_equal(np.asarray(out)[full], np.asarray(generated)[full])


def test_composite_resizes_generated_and_converts_mode() -> None:
    rng = np.random.default_rng(5)
    original = _random_rgb(rng, 40, 30)
    generated = _random_rgb(rng, 64, 48).convert("RGBA")
    mask = _square_mask(size=40).crop((0, 0, 40, 30))
    out = masks.composite(original, generated, mask)
    assert out.size == (40, 30) and out.mode == "RGB"
    zero = np.asarray(mask) == 0
    assert np.array_equal(np.asarray(out)[zero], np.asarray(original)[zero])


def test_composite_rejects_mask_of_wrong_size() -> None:
    img = Image.new("RGB", (16, 16))
    with pytest.raises(ValueError, match="16x16"):
        masks.composite(img, img, Image.new("L", (8, 8)))


@pytest.mark.parametrize("fill", list(MaskedContent))
def test_prefill_changes_only_masked_pixels(fill: MaskedContent) -> None:
    rng = np.random.default_rng(3)
    img = _random_rgb(rng, 64, 64)
    mask = _square_mask()
    out = np.asarray(masks.prefill_masked(img, mask, fill, seed=1))
    outside = np.asarray(mask) == 0
    assert np.array_equal(out[outside], np.asarray(img)[outside])
    changed = not np.array_equal(out[~outside], np.asarray(img)[~outside])
    assert changed == (fill is not MaskedContent.ORIGINAL)


def test_grow_is_fast_on_large_masks() -> None:
    import time

    arr = np.zeros((4096, 4096), np.uint8)
    arr[1000:3000, 500:3500] = 255
    mask = Image.fromarray(arr, mode="L")
    start = time.perf_counter()
    masks.grow_mask(mask, 64)
    masks.grow_mask(mask, -64)
    assert time.perf_counter() - start < 5.0  # ~0.3 s here; generous for a shared machine
