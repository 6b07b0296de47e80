"""core.tiles: the grid covers the image with full-size tiles sharing the overlap, and feathered
weights blend overlapping tiles so a constant image stays constant and a seam turns into a ramp."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.tiles import TileBlender, feather_weights, refine_tiles, tile_grid


def test_grid_covers_the_image_with_full_tiles_sharing_the_overlap():
    boxes = tile_grid((200, 100), 64, 16)
    lefts = sorted({b[0] for b in boxes})
    assert lefts == [0, 48, 96, 136] and sorted({b[1] for b in boxes}) == [0, 36]
    assert all(b[2] - b[0] == 64 and b[3] - b[1] == 64 for b in boxes)
    covered = np.zeros((100, 200), bool)
    for left, top, right, bottom in boxes:
        covered[top:bottom, left:right] = True
    assert covered.all()


def test_a_small_image_is_one_tile_and_refine_tiles_pad_to_multiples_of_8():
    assert tile_grid((30, 20), 64, 16) == [(0, 0, 30, 20)]
    assert refine_tiles((30, 20), 64, 16) == [(0, 0, 32, 24)]


@pytest.mark.parametrize(("tile", "overlap"), [(4, 0), (64, 40), (64, -1)])
def test_bad_tiles_are_refused(tile, overlap):
    with pytest.raises(ValueError, match="(?i)tile"):
        tile_grid((100, 100), tile, overlap)


def test_weights_ramp_only_where_neighbours_overlap():
    boxes = tile_grid((112, 64), 64, 16)  # two tiles side by side, overlapping 16 px
    first = feather_weights(boxes[0], boxes, (112, 64))
    assert first[:, 0].min() == 1.0 and first[0, :48].min() == 1.0  # the image's edge: no ramp
    assert first[0, 63] < 0.05 and np.all(np.diff(first[0, 48:]) < 0)


def test_blending_keeps_a_constant_image_and_turns_a_step_into_a_ramp():
    boxes = tile_grid((112, 64), 64, 16)
    constant = TileBlender((112, 64), 1, boxes)
    for left, top, right, bottom in boxes:
        constant.add((left, top, right, bottom), np.full((bottom - top, right - left, 1), 0.5, np.float32))
    assert np.allclose(constant.result(), 0.5)
    for blend, biggest_jump in ((True, 0.07), (False, 1.0)):
        step = TileBlender((112, 64), 1, boxes, blend=blend)
        for value, (left, top, right, bottom) in zip((0.0, 1.0), boxes, strict=True):
            step.add((left, top, right, bottom), np.full((bottom - top, right - left, 1), value, np.float32))
        jumps = np.abs(np.diff(step.result()[0, :, 0]))
        assert jumps.max() == pytest.approx(biggest_jump, abs=0.01)
