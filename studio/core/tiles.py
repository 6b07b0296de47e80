"""Tiles for work on images too large to process at once (model upscaling, tiled refine): pure numpy.

`tile_grid(size, tile, overlap)` covers an image with boxes of at most `tile` px per side, neighbours
sharing `overlap` px (the last row/column is moved back to end at the image's edge, so every tile has
the full size when the image is at least a tile large). `feather_weights` gives a tile's blending
weights: linear ramps across the parts it shares with its neighbours, 1 elsewhere and along the
image's edges, so the weighted sum of overlapping tiles, divided by the summed weights, changes
smoothly from one tile into the next (no seam). `TileBlender` accumulates tiles that way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]  # left, top, right, bottom (right/bottom exclusive)
Size = tuple[int, int]
FloatArray = npt.NDArray[np.float32]
# weights never reach 0 inside an image: a pixel covered by one tile only keeps a weight > 0
_MIN_WEIGHT = 1e-3


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one side: step `tile - overlap`, the last moved back to end at `length`."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def tile_grid(size: Size, tile: int, overlap: int) -> list[Box]:
    """Boxes covering a `size` (width, height) image, row by row; see the module docstring.

    Raises ValueError for a tile below 8 px or an overlap that leaves no stride (>= tile / 2)."""
    if tile < 8:
        raise ValueError(f"Tiles must be at least 8 px, not {tile}.")
    if overlap < 0 or overlap * 2 > tile:
        raise ValueError(
            f"The tile overlap must be between 0 and half the tile ({tile // 2}), not {overlap}."
        )
    width, height = size
    return [
        (left, top, min(left + tile, width), min(top + tile, height))
        for top in _starts(height, tile, overlap)
        for left in _starts(width, tile, overlap)
    ]


def _ramp(length: int, before: int, after: int) -> FloatArray:
    """1-D weights: rising over `before` px at the start, falling over `after` px at the end."""
    weights = np.ones(length, dtype=np.float32)
    if before > 0:
        weights[:before] = np.minimum(weights[:before], (np.arange(before, dtype=np.float32) + 0.5) / before)
    if after > 0:
        falling = (np.arange(after, dtype=np.float32)[::-1] + 0.5) / after
        weights[length - after :] = np.minimum(weights[length - after :], falling)
    return np.maximum(weights, _MIN_WEIGHT)


def feather_weights(box: Box, boxes: list[Box], size: Size) -> FloatArray:
    """(h, w) weights of `box` among `boxes` on a `size` image: linear ramps over the width it shares
    with its neighbours on each side (none along the image's edges)."""
    left, top, right, bottom = box
    width, height = size

    def shared(start: int, end: int, axis: int) -> tuple[int, int]:
        # how far the neighbours reach into this box from the start side and from the end side
        lo = hi = 0
        for other in boxes:
            if other == box or not _overlaps_across(box, other, axis):
                continue
            o_start, o_end = (other[0], other[2]) if axis == 0 else (other[1], other[3])
            if o_start < start < o_end:
                lo = max(lo, o_end - start)
            if o_start < end < o_end:
                hi = max(hi, end - o_start)
        return lo, hi

    before_x, after_x = shared(left, right, 0)
    before_y, after_y = shared(top, bottom, 1)
    if left == 0:
        before_x = 0
    if right == width:
        after_x = 0
    if top == 0:
        before_y = 0
    if bottom == height:
        after_y = 0
    wx = _ramp(right - left, before_x, after_x)
    wy = _ramp(bottom - top, before_y, after_y)
    return np.outer(wy, wx).astype(np.float32)


def _overlaps_across(box: Box, other: Box, axis: int) -> bool:
    """Whether `other` shares rows (axis 0: a left/right neighbour) or columns (axis 1) with `box`."""
    if axis == 0:
        return other[1] < box[3] and box[1] < other[3]
    return other[0] < box[2] and box[0] < other[2]


@dataclass
class TileBlender:
    """Accumulates processed tiles into one (h, w, c) float image with feathered weights.

    `blend=False` pastes tiles with hard edges (later tiles win): kept to show what blending fixes."""

    size: Size
    channels: int
    boxes: list[Box]
    blend: bool = True

    def __post_init__(self) -> None:
        width, height = self.size
        self._sum = np.zeros((height, width, self.channels), dtype=np.float32)
        self._weight = np.zeros((height, width, 1), dtype=np.float32)

    def add(self, box: Box, pixels: FloatArray) -> None:
        """Add a tile's (h, w, c) pixels for `box` (one of `boxes`)."""
        left, top, right, bottom = box
        if pixels.shape[:2] != (bottom - top, right - left):
            raise ValueError(
                f"A tile for {box} must be {right - left}x{bottom - top}, not {pixels.shape[:2]}."
            )
        if not self.blend:
            self._sum[top:bottom, left:right] = pixels
            self._weight[top:bottom, left:right] = 1.0
            return
        weights = feather_weights(box, self.boxes, self.size)[..., None]
        self._sum[top:bottom, left:right] += pixels * weights
        self._weight[top:bottom, left:right] += weights

    def result(self) -> FloatArray:
        """The blended image (pixels no tile covered are 0)."""
        return (self._sum / np.maximum(self._weight, _MIN_WEIGHT)).astype(np.float32)

    def result_8bit(self) -> npt.NDArray[np.uint8]:
        """`result()` of tiles in [0, 1] as 8-bit pixels (rounded), ready for `Image.fromarray`."""
        return np.clip(self.result() * 255.0 + 0.5, 0, 255).astype(np.uint8)


def padded_to_8(size: Size) -> Size:
    """`size` with each side rounded up to a multiple of 8 (what diffusion pipelines take)."""
    return -(-size[0] // 8) * 8, -(-size[1] // 8) * 8


def refine_tiles(size: Size, tile: int, overlap: int) -> list[Box]:
    """The tiles a tiled refine of a `size` image runs: on the image padded to multiples of 8, tiles
    of `tile` rounded down to a multiple of 8."""
    return tile_grid(padded_to_8(size), max(8, tile // 8 * 8), overlap)


def resized_box(box: Box, size: Size, new_size: Size) -> Box:
    """`box` in the pixels of an image of `size` resized to `new_size`: every edge maps the same way,
    so boxes that touch or overlap before still do after."""
    fx, fy = new_size[0] / size[0], new_size[1] / size[1]
    return round(box[0] * fx), round(box[1] * fy), round(box[2] * fx), round(box[3] * fy)
