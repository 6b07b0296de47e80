"""Mask and colour rasterization in numpy, touching only the dirty rectangle (no Qt here, so it benches headless).

A stroke is a chain of segments; each segment is a capsule whose radius may change along it (pen
pressure). Painting keeps the maximum coverage (eraser: the minimum), so overlapping segments of one
stroke never build up darker joints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided
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
    return _coverage_at(xs, ys, p0, p1, r0, r1, hardness)


def _coverage_at(
    xs: np.ndarray, ys: np.ndarray, p0: Point, p1: Point, r0: float, r1: float, hardness: float
) -> np.ndarray:
    """`coverage` at pixel centres given relative to p0 (float32 arrays that broadcast together: a
    rect's row and column, or a batch of tiles); the same float32 operations element by element."""
    f32 = np.float32
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
    """Paint one stroke segment into `mask` (HxW uint8) in place; return the dirty rect or None
    (a big brush computes only the tiles it can change and returns theirs; None: nothing changed).

    `strength` (0..1) scales the coverage (pen pressure as opacity); painting keeps the maximum."""
    r1 = radius if radius_end is None else radius_end
    h, w = mask.shape
    rect = segment_rect(p0, p1, max(radius, r1), w, h)
    if rect is None:
        return None
    grid = _big_segment_grid(rect, w, h)
    if grid is not None:  # a big brush: only the tiles it can change (the same values)
        args = (max(radius, 0.5), max(r1, 0.5))
        stamp = _stamp_tiles(mask, grid, p0, p1, *args, hardness=hardness, strength=strength, erase=erase)
        return None if stamp is None else stamp.rect
    cov = coverage(rect, p0, p1, max(radius, 0.5), max(r1, 0.5), hardness)
    region = mask[rect[1] : rect[3], rect[0] : rect[2]]
    if erase:
        np.minimum(region, _erase_bytes(cov), out=region)
    else:
        np.maximum(region, _coverage_bytes(cov, strength), out=region)
    return rect


def _erase_bytes(cov: np.ndarray) -> np.ndarray:
    """Coverage in [0, 1] (float32, consumed) -> what erasing leaves: 255 * (1 - c), rounded."""
    cov *= np.float32(-255.0)
    cov += np.float32(255.5)
    return cov.astype(np.uint8)


def _coverage_bytes(cov: np.ndarray, strength: float) -> np.ndarray:
    """Coverage in [0, 1] (float32, consumed) -> uint8 levels scaled by `strength`, rounded."""
    cov *= np.float32(255.0 * min(1.0, max(0.0, strength)))
    cov += np.float32(0.5)
    return cov.astype(np.uint8)


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


BRUSH_TILE = 64  # big brush segments compute only the tiles of this size whose values can change
TILED_FROM = 400 * 400  # segment rects of fewer pixels are done whole (bench_canvas: faster below it)
Grid = tuple[int, int, int, int]  # left, top, tile columns, tile rows


@dataclass
class _Stamp:
    """The tiles of `grid` (rows `ty`, columns `tx`) a segment changed, and their new values."""

    grid: Grid
    ty: np.ndarray
    tx: np.ndarray
    values: np.ndarray  # (n, T, T) uint8

    @property
    def rect(self) -> Rect:
        gx, gy, t = self.grid[0], self.grid[1], BRUSH_TILE
        return (
            int(gx + self.tx.min() * t),
            int(gy + self.ty.min() * t),
            int(gx + (self.tx.max() + 1) * t),
            int(gy + (self.ty.max() + 1) * t),
        )


def _big_segment_grid(rect: Rect, width: int, height: int) -> Grid | None:
    """The tile grid for a segment rect big enough to be worth it (None: do the whole rect)."""
    area = (rect[2] - rect[0]) * (rect[3] - rect[1])
    return _tile_grid(rect, width, height, BRUSH_TILE) if area >= TILED_FROM else None


def _stamp_tiles(
    mask: np.ndarray,
    grid: Grid,
    p0: Point,
    p1: Point,
    r0: float,
    r1: float,
    *,
    hardness: float,
    strength: float,
    erase: bool,
) -> _Stamp | None:
    """`paint_segment`'s result on the tiles of `grid` where it can change something (the capsule
    reaches them, and they are not already at the most (painting) or at zero (erasing)), written
    into `mask`, bit for bit the same values as over the whole rect. A big brush moving changes a
    crescent at its front, about a quarter of its segment's rect."""
    t = BRUSH_TILE
    gx, gy = grid[0], grid[1]
    tiles = _tiles(mask, grid, t)
    if erase:
        open_tiles = tiles.max(axis=(1, 3)) > 0
    else:
        open_tiles = tiles.min(axis=(1, 3)) < _coverage_bytes(np.ones(1, np.float32), strength)[0]
    ty, tx = np.nonzero(_tiles_reached(grid, t, p0, p1, max(r0, r1)) & open_tiles)
    if ty.size == 0:
        return None
    f32 = np.float32
    offsets = np.arange(t, dtype=np.int64)
    xs = ((gx + tx * t)[:, None] + offsets).astype(f32)[:, None, :] + f32(0.5 - p0[0])  # (n, 1, T)
    ys = ((gy + ty * t)[:, None] + offsets).astype(f32)[:, :, None] + f32(0.5 - p0[1])  # (n, T, 1)
    cov = _coverage_at(xs, ys, p0, p1, r0, r1, hardness)
    old = tiles[ty, :, tx, :]
    if erase:
        new = _erase_bytes(cov)
        np.minimum(new, old, out=new)
    else:
        new = _coverage_bytes(cov, strength)
        np.maximum(new, old, out=new)
    changed = (new != old).any(axis=(1, 2))
    if not changed.any():
        return None
    stamp = _Stamp(grid, ty[changed], tx[changed], new[changed])
    tiles[stamp.ty, :, stamp.tx, :] = stamp.values
    return stamp


def paint_colour_segment(
    layer: np.ndarray,
    coverage_mask: np.ndarray,
    backup: Callable[[Rect], np.ndarray],
    p0: Point,
    p1: Point,
    radius: float,
    colour: np.ndarray,
    *,
    hardness: float = 1.0,
    radius_end: float | None = None,
    strength: float = 1.0,
    erase: bool = False,
) -> Rect | None:
    """One colour brush segment: `paint_segment` into the stroke's `coverage_mask`, then
    `colour_segment` of the layer, exactly (bit for bit) as both over the segment's whole rect, but
    for a big brush computed and blended only on the tiles where the coverage went up (the rest is
    already at full coverage, behind the pen, or outside the capsule, the rect's corners).
    `backup(rect)` gives the layer's pixels in `rect` from before the stroke (`Document.stroke_backup`).
    Returns the rect of what changed (to repaint), or None."""
    r1 = radius if radius_end is None else radius_end
    h, w = coverage_mask.shape
    rect = segment_rect(p0, p1, max(radius, r1), w, h)
    if rect is None:
        return None
    grid = _big_segment_grid(rect, w, h)
    if grid is None:
        paint_segment(coverage_mask, p0, p1, radius, hardness=hardness, radius_end=r1, strength=strength)
        colour_segment(layer, backup(rect), coverage_mask, rect, colour, erase=erase)
        return rect
    r0c, r1c = max(radius, 0.5), max(r1, 0.5)
    stamp = _stamp_tiles(
        coverage_mask, grid, p0, p1, r0c, r1c, hardness=hardness, strength=strength, erase=False
    )
    if stamp is None:
        return None
    _blend_tiles(layer, backup, stamp, np.zeros(4, np.uint8) if erase else colour)
    return stamp.rect


def _blend_tiles(
    layer: np.ndarray, backup: Callable[[Rect], np.ndarray], stamp: _Stamp, target: np.ndarray
) -> None:
    """`colour_segment` on the stamp's tiles only: their pixels from before the stroke blended
    toward `target` by their new coverage, in one Pillow pass over the tiles stacked."""
    t, dirty = BRUSH_TILE, stamp.rect
    ty, tx, n = stamp.ty, stamp.tx, stamp.ty.size
    dirty_grid = (0, 0, (dirty[2] - dirty[0]) // t, (dirty[3] - dirty[1]) // t)
    before = _tiles(backup(dirty).view(np.uint32)[..., 0], dirty_grid, t)
    before_px = before[ty - ty.min(), :, tx - tx.min(), :].reshape(n * t, t).view(np.uint8)
    after = lerp_pixels(before_px.reshape(n * t, t, 4), target, stamp.values.reshape(n * t, t))
    layer_tiles = _tiles(layer.view(np.uint32)[..., 0], stamp.grid, t)
    layer_tiles[ty, :, tx, :] = np.ascontiguousarray(after).view(np.uint32).reshape(n, t, t)


def _tile_grid(rect: Rect, width: int, height: int, t: int) -> Grid | None:
    """Whole tiles covering `rect`, moved back inside the canvas where they would stick out."""
    left, top, right, bottom = rect
    ntx, nty = -(-(right - left) // t), -(-(bottom - top) // t)
    if ntx * t > width or nty * t > height:
        return None
    return min(left, width - ntx * t), min(top, height - nty * t), ntx, nty


def _tiles(array: np.ndarray, grid: Grid, t: int) -> np.ndarray:
    """A (rows, T, columns, T) view of the grid's pixels of a 2-D array (writes go to `array`)."""
    gx, gy, ntx, nty = grid
    part = array[gy : gy + nty * t, gx : gx + ntx * t]
    s0, s1 = part.strides
    return as_strided(part, (nty, t, ntx, t), (s0 * t, s0, s1 * t, s1))  # a view, never a copy


def _tile_min(tiles: np.ndarray) -> np.ndarray:
    return tiles.min(axis=(1, 3))


def _tiles_reached(grid: Grid, t: int, p0: Point, p1: Point, radius: float) -> np.ndarray:
    """Tiles (rows, columns) with a pixel centre that may lie within `radius` of the segment: the
    tile centre's distance minus its half-diagonal, with a pixel to spare."""
    gx, gy, ntx, nty = grid
    cx = gx + np.arange(ntx) * t + t / 2.0
    cy = (gy + np.arange(nty) * t + t / 2.0)[:, None]
    ax, ay = p0
    dx, dy = p1[0] - ax, p1[1] - ay
    length2 = dx * dx + dy * dy
    if length2 < 1e-9:
        s = np.zeros((nty, ntx))
    else:
        s = np.clip(((cx - ax) * dx + (cy - ay) * dy) / length2, 0.0, 1.0)
    dist = np.hypot(cx - (ax + s * dx), cy - (ay + s * dy))
    reached: np.ndarray = dist - (t - 1) / np.sqrt(2.0) < radius + 1.0
    return reached
