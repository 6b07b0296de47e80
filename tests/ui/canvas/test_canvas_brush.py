"""Numpy mask rasterization: strokes change the mask where expected and only there."""

from __future__ import annotations

import numpy as np

from studio.ui.canvas import brush


def _dist_to_segment(h: int, w: int, p0, p1) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    d = np.subtract(p1, p0)
    t = np.clip(((xs - p0[0]) * d[0] + (ys - p0[1]) * d[1]) / max(1e-9, d @ d), 0, 1)
    return np.hypot(xs - (p0[0] + t * d[0]), ys - (p0[1] + t * d[1]))


def test_hard_segment_covers_capsule_and_nothing_else() -> None:
    mask = np.zeros((100, 120), np.uint8)
    rect = brush.paint_segment(mask, (20, 30), (90, 60), 10, hardness=1.0)
    dist = _dist_to_segment(100, 120, (20, 30), (90, 60))
    assert (mask[dist <= 9.0] == 255).all()
    assert not mask[dist >= 11.0].any()
    ys, xs = np.nonzero(mask)
    assert rect[0] <= xs.min() and xs.max() < rect[2] and rect[1] <= ys.min() and ys.max() < rect[3]


def test_soft_brush_falls_off_and_never_builds_up() -> None:
    mask = np.zeros((80, 80), np.uint8)
    brush.paint_segment(mask, (40, 40), (40, 40), 20, hardness=0.0)
    once = mask.copy()
    brush.paint_segment(mask, (40, 40), (40, 40), 20, hardness=0.0)
    assert np.array_equal(mask, once)  # max, not accumulate
    assert mask[40, 40] > 240 and 0 < mask[40, 52] < 200 and mask[40, 61] == 0


def test_eraser_clears_only_under_brush() -> None:
    mask = np.full((50, 50), 255, np.uint8)
    brush.paint_segment(mask, (25, 25), (25, 25), 5, erase=True)
    dist = _dist_to_segment(50, 50, (25, 25), (25, 25))
    assert not mask[dist <= 4].any()
    assert (mask[dist >= 6] == 255).all()


def test_pressure_tapers_radius() -> None:
    mask = np.zeros((60, 200), np.uint8)
    brush.paint_segment(mask, (20, 30), (180, 30), 2, radius_end=20)
    assert mask[:, 20].sum() < mask[:, 178].sum()


def test_segment_outside_canvas_is_noop() -> None:
    mask = np.zeros((10, 10), np.uint8)
    assert brush.paint_segment(mask, (-50, -50), (-40, -40), 3) is None
    assert not mask.any()


def test_rect_and_polygon_values() -> None:
    mask = np.zeros((40, 40), np.uint8)
    rect, values = brush.rect_values(mask, (30, 20), (10, 5))
    assert rect == (10, 5, 30, 20) and (values == 255).all()
    rect, values = brush.polygon_values(mask, [(0, 0), (20, 0), (0, 20)])
    assert rect[:2] == (0, 0)
    assert values[2, 2] == 255 and values[18, 18] == 0
    assert brush.polygon_values(mask, [(0, 0), (1, 1)]) is None
