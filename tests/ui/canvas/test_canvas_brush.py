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


def _colour_stroke(tiled: bool, base: np.ndarray, segments: list, colour: np.ndarray) -> tuple:
    """Paint `segments` as one colour stroke, tile by tile or over each segment's whole rect."""
    from studio.core.undo import StrokeBackup

    pixels, cov = base.copy(), np.zeros(base.shape[:2], np.uint8)
    backup = StrokeBackup(pixels)

    def before(rect: tuple[int, int, int, int]) -> np.ndarray:
        backup.save(rect)
        return backup.saved_pixels[rect[1] : rect[3], rect[0] : rect[2]]

    rects = []
    for p0, p1, r0, r1, hardness, strength, erase in segments:
        if tiled:
            rects.append(
                brush.paint_colour_segment(
                    pixels, cov, before, p0, p1, r0, colour,
                    hardness=hardness, radius_end=r1, strength=strength, erase=erase,
                )
            )  # fmt: skip
            continue
        rect = brush.paint_segment(cov, p0, p1, r0, hardness=hardness, radius_end=r1, strength=strength)
        if rect:
            brush.colour_segment(pixels, before(rect), cov, rect, colour, erase=erase)
    return pixels, cov, rects


def test_tiled_colour_segments_equal_whole_rect_blend_bit_for_bit(monkeypatch) -> None:
    """The colour brush computes and blends only the tiles whose coverage can still go up: the
    layer and the coverage must come out exactly as blending each segment's whole rect."""
    monkeypatch.setattr(brush, "TILED_FROM", 0)  # tiles for these small brushes too
    rng = np.random.default_rng(3)
    colour = np.array([30, 30, 200, 255], np.uint8)
    for h, w in ((300, 500), (90, 70), (257, 513)):  # also canvases smaller than a tile grid
        base = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        base[..., :3] = np.minimum(base[..., :3], base[..., 3:4])  # valid premultiplied pixels
        for trial in range(4):
            points = [(float(rng.uniform(-40, w + 40)), float(rng.uniform(-40, h + 40)))]
            hardness, erase = float(rng.uniform(0, 1)), trial % 2 == 1
            segments = []
            for _ in range(20):
                p = (points[-1][0] + float(rng.normal(0, 40)), points[-1][1] + float(rng.normal(0, 40)))
                r0, r1 = float(rng.uniform(1, 90)), float(rng.uniform(1, 90))
                segments.append((points[-1], p, r0, r1, hardness, float(rng.uniform(0.2, 1)), erase))
                points.append(p)
            tiled, cov_tiled, rects = _colour_stroke(True, base, segments, colour)
            whole, cov_whole, _ = _colour_stroke(False, base, segments, colour)
            assert np.array_equal(cov_tiled, cov_whole)
            assert np.array_equal(tiled, whole)
            changed = np.nonzero((tiled != base).any(axis=2))
            touched = np.zeros((h, w), bool)
            for r in rects:
                if r is not None:
                    touched[r[1] : r[3], r[0] : r[2]] = True
            assert touched[changed].all()  # every changed pixel lies in a returned dirty rect


def test_tiled_colour_segment_blends_less_than_its_rect() -> None:
    """A big brush moving fast: the second segment's dirty rect is the crescent's tiles, not the
    capsule's bounding box."""
    pixels = np.zeros((2048, 2048, 4), np.uint8)
    cov = np.zeros((2048, 2048), np.uint8)
    colour = np.array([0, 0, 255, 255], np.uint8)
    saved = pixels.copy()

    def before(rect: tuple[int, int, int, int]) -> np.ndarray:
        return saved[rect[1] : rect[3], rect[0] : rect[2]]

    brush.paint_colour_segment(pixels, cov, before, (1000, 1000), (1000, 1000), 400, colour, hardness=0.8)
    rect = brush.paint_colour_segment(
        pixels, cov, before, (1000, 1000), (1100, 1000), 400, colour, hardness=0.8
    )
    full = brush.segment_rect((1000, 1000), (1100, 1000), 400, 2048, 2048)
    assert rect is not None and full is not None
    assert rect[0] > full[0] + 300  # the left part, already at full coverage, is not touched again


def test_tiled_mask_segments_equal_whole_rect_bit_for_bit(monkeypatch) -> None:
    """The mask brush and eraser with big brushes compute only the tiles they can change: the
    same mask, bit for bit, as over each segment's whole rect."""
    rng = np.random.default_rng(5)
    for h, w in ((300, 500), (90, 70)):
        start = rng.integers(0, 256, (h, w), dtype=np.uint8)
        start[: h // 2] = 0  # some empty tiles, some full ones
        start[h // 2 :, : w // 3] = 255
        for trial in range(4):
            points = [(float(rng.uniform(-40, w + 40)), float(rng.uniform(-40, h + 40)))]
            segments = []
            for _ in range(20):
                p = (points[-1][0] + float(rng.normal(0, 40)), points[-1][1] + float(rng.normal(0, 40)))
                segments.append((points[-1], p, float(rng.uniform(1, 90)), float(rng.uniform(1, 90))))
                points.append(p)
            hardness, erase = float(rng.uniform(0, 1)), trial % 2 == 1
            masks = []
            for tiled_from in (0, 10**9):
                monkeypatch.setattr(brush, "TILED_FROM", tiled_from)
                mask = start.copy()
                for p0, p1, r0, r1 in segments:
                    before = mask.copy()
                    rect = brush.paint_segment(
                        mask, p0, p1, r0, radius_end=r1, hardness=hardness, erase=erase, strength=0.7
                    )
                    outside = np.ones_like(mask, bool)
                    if rect is not None:
                        outside[rect[1] : rect[3], rect[0] : rect[2]] = False
                    assert np.array_equal(mask[outside], before[outside])  # changes lie in the rect
                masks.append(mask)
            assert np.array_equal(masks[0], masks[1])
