"""Mask and colour rasterization in numpy, touching only the dirty rectangle (no Qt here, so it benches headless).

A stroke is a chain of segments; each segment is a capsule whose radius may change along it (pen
pressure). Painting keeps the maximum coverage (eraser: the minimum), so overlapping segments of one
stroke never build up darker joints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from studio.core.layers import lerp_pixels

Rect = tuple[int, int, int, int]
Point = tuple[float, float]


def segment_rect(p0: Point, p1: Point, radius: float, width: int, height: int) -> Rect | None:
    pad = radius + 1.5
    left = int(np.floor(min(p0[0], p1[0]) - pad))
    top = int(np.floor(min(p0[1], p1[1]) - pad))
    right = int(np.ceil(max(p0[0], p1[0]) + pad)) + 1
    bottom = int(np.ceil(max(p0[1], p1[1]) + pad)) + 1
    left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
    if right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


def coverage(rect: Rect, p0: Point, p1: Point, r0: float, r1: float, hardness: float) -> np.ndarray:
    """Brush coverage in [0, 1] (float32) over `rect` for a capsule from p0 (radius r0) to p1 (r1).

    Written with in-place operations on at most two full-size buffers: this is the hot loop.
    """
    left, top, right, bottom = rect
    f32 = np.float32
    xs = np.arange(left, right, dtype=f32) + f32(0.5 - p0[0])  # relative to p0, shape (W,)
    ys = (np.arange(top, bottom, dtype=f32) + f32(0.5 - p0[1]))[:, None]  # (H, 1)
    dx, dy = f32(p1[0] - p0[0]), f32(p1[1] - p0[1])
    length2 = float(dx * dx + dy * dy)
    if length2 < 1e-6:  # a dab
        t = None
        dist = np.add(xs * xs, ys * ys)
    else:
        t = np.add(xs * (dx / f32(length2)), ys * (dy / f32(length2)))  # projection onto the segment
        np.clip(t, 0.0, 1.0, out=t)
        dist = np.multiply(t, -dx)
        dist += xs
        np.square(dist, out=dist)
        tmp = np.multiply(t, -dy)
        tmp += ys
        np.square(tmp, out=tmp)
        dist += tmp
    np.sqrt(dist, out=dist)
    radius: np.ndarray | np.float32 = f32(r0)
    if t is not None and r0 != r1:
        radius = t * f32(r1 - r0)
        radius += f32(r0)
    soft = np.maximum(radius * f32(1.0 - hardness), f32(1.0))  # >= 1 px antialiasing
    # coverage = clip((radius - dist) / soft, 0, 1), computed in dist's buffer
    np.subtract(radius, dist, out=dist)
    dist /= soft
    np.clip(dist, 0.0, 1.0, out=dist)
    if hardness < 1.0:  # smoothstep falloff for soft brushes: c * c * (3 - 2c)
        tmp = np.multiply(dist, f32(-2.0))
        tmp += f32(3.0)
        tmp *= dist
        tmp *= dist
        return tmp
    return dist


def paint_segment(
    mask: np.ndarray,
    p0: Point,
    p1: Point,
    radius: float,
    *,
    hardness: float = 1.0,
    erase: bool = False,
    radius_end: float | None = None,
    strength: float = 1.0,
) -> Rect | None:
    """Paint one stroke segment into `mask` (HxW uint8) in place; return the dirty rect or None.

    `strength` (0..1) scales the coverage (pen pressure as opacity); painting keeps the maximum."""
    r1 = radius if radius_end is None else radius_end
    h, w = mask.shape
    rect = segment_rect(p0, p1, max(radius, r1), w, h)
    if rect is None:
        return None
    cov = coverage(rect, p0, p1, max(radius, 0.5), max(r1, 0.5), hardness)
    region = mask[rect[1] : rect[3], rect[0] : rect[2]]
    if erase:  # 255 * (1 - c), rounded, in place
        cov *= np.float32(-255.0)
        cov += np.float32(255.5)
        np.minimum(region, cov.astype(np.uint8), out=region)
    else:
        cov *= np.float32(255.0 * min(1.0, max(0.0, strength)))
        cov += np.float32(0.5)
        np.maximum(region, cov.astype(np.uint8), out=region)
    return rect


def polygon_values(
    mask: np.ndarray, points: Sequence[Point], *, erase: bool = False
) -> tuple[Rect, np.ndarray] | None:
    """The new mask values of the polygon's bounding rect after filling (or clearing) the polygon."""
    if len(points) < 3:
        return None
    h, w = mask.shape
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    rect = (
        max(0, int(min(xs))),
        max(0, int(min(ys))),
        min(w, int(np.ceil(max(xs))) + 1),
        min(h, int(np.ceil(max(ys))) + 1),
    )
    if rect[2] <= rect[0] or rect[3] <= rect[1]:
        return None
    shape = Image.new("L", (rect[2] - rect[0], rect[3] - rect[1]), 0)
    ImageDraw.Draw(shape).polygon([(x - rect[0], y - rect[1]) for x, y in points], fill=255)
    inside = np.asarray(shape) > 0
    region = mask[rect[1] : rect[3], rect[0] : rect[2]].copy()
    region[inside] = 0 if erase else 255
    return rect, region


def rect_values(
    mask: np.ndarray, a: Point, b: Point, *, erase: bool = False
) -> tuple[Rect, np.ndarray] | None:
    h, w = mask.shape
    rect = (
        max(0, int(round(min(a[0], b[0])))),
        max(0, int(round(min(a[1], b[1])))),
        min(w, int(round(max(a[0], b[0])))),
        min(h, int(round(max(a[1], b[1])))),
    )
    if rect[2] <= rect[0] or rect[3] <= rect[1]:
        return None
    values = np.full((rect[3] - rect[1], rect[2] - rect[0]), 0 if erase else 255, np.uint8)
    return rect, values


def colour_segment(
    layer: np.ndarray,
    before: np.ndarray,
    coverage: np.ndarray,
    rect: Rect,
    colour: np.ndarray,
    *,
    erase: bool = False,
) -> None:
    """Paint `rect` of a premultiplied BGRA `layer`: its pixels from before the stroke (`before`, the
    rect's shape) blended toward `colour` (one BGRA pixel; erase: toward transparent) by the stroke's
    accumulated `coverage` (HxW uint8, the layer's size, opacity and pressure already in it: paint it
    with `paint_segment(..., strength=opacity * pressure)`). Blending from the stroke's starting pixels
    by its maximum coverage means overlapping segments never build up darker joints."""
    left, top, right, bottom = rect
    target = np.zeros(4, np.uint8) if erase else colour
    layer[top:bottom, left:right] = lerp_pixels(before, target, coverage[top:bottom, left:right])
