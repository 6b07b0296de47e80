"""Sizes and boxes: mask boxes, crop-to-mask for inpainting, outpaint canvases, snapping, aspects.

Boxes are (left, top, right, bottom) with right/bottom exclusive, like Pillow's.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from studio.core.infill import DEFAULT_INFILL, INFILL_METHODS, infill
from studio.core.request import OutpaintOptions

Box = tuple[int, int, int, int]
Size = tuple[int, int]

ASPECT_RATIOS: tuple[tuple[str, int, int], ...] = (
    ("1:1", 1, 1),
    ("4:3", 4, 3),
    ("3:2", 3, 2),
    ("16:9", 16, 9),
    ("2:3", 2, 3),
    ("9:16", 9, 16),
)
OUTPAINT_FILLS = (*INFILL_METHODS, "none")  # "none": black, to inspect the mask alone


def snap(value: float, multiple: int = 8, mode: str = "nearest") -> int:
    """Snap to a multiple ("nearest", "up" or "down"); never below `multiple`."""
    q = value / multiple
    n = {"nearest": lambda x: math.floor(x + 0.5), "up": math.ceil, "down": math.floor}[mode](q)
    return max(multiple, int(n) * multiple)


def snap_size(size: Size, multiple: int = 8, mode: str = "nearest") -> Size:
    return snap(size[0], multiple, mode), snap(size[1], multiple, mode)


def size_for_aspect(ratio_w: int, ratio_h: int, area: int = 512 * 512, multiple: int = 8) -> Size:
    """The size with this aspect ratio whose area is close to `area`, both sides snapped."""
    w = math.sqrt(area * ratio_w / ratio_h)
    return snap(w, multiple), snap(w * ratio_h / ratio_w, multiple)


def aspect_presets(area: int = 512 * 512, multiple: int = 8) -> list[tuple[str, Size]]:
    """[("1:1", (512, 512)), ("4:3", (592, 440)), ...] for the size menu."""
    return [(label, size_for_aspect(rw, rh, area, multiple)) for label, rw, rh in ASPECT_RATIOS]


def scale_to_fit(size: Size, target_area: int, multiple: int = 8) -> Size:
    """Scale `size` (keeping its aspect) so its area is about `target_area`; sides snapped."""
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"Cannot scale an empty size {w}x{h}.")
    k = math.sqrt(target_area / (w * h))
    return snap(w * k, multiple), snap(h * k, multiple)


def mask_bbox(mask_L: Image.Image) -> Box | None:
    """The box around every non-zero mask pixel, or None for an empty mask."""
    mask = mask_L if mask_L.mode == "L" else mask_L.convert("L")
    return mask.getbbox()


def crop_box_for_mask(
    mask_L: Image.Image,
    padding: int,
    image_size: Size,
    multiple: int = 8,
    target_aspect: float | None = None,
) -> Box:
    """The region to regenerate for "only masked" inpainting.

    The mask's box grown by `padding` on every side, clamped to the image, then grown toward
    `target_aspect` (width / height, e.g. the model's native 1.0) and to multiples of `multiple`
    wherever the image is large enough. An empty mask gives the whole image.
    """
    iw, ih = image_size
    bbox = mask_bbox(mask_L)
    if bbox is None:
        return 0, 0, iw, ih
    left, top = max(bbox[0] - padding, 0), max(bbox[1] - padding, 0)
    right, bottom = min(bbox[2] + padding, iw), min(bbox[3] + padding, ih)
    need_w, need_h = w, h = right - left, bottom - top
    if target_aspect:
        if w / h < target_aspect:
            w = max(w, min(iw, round(h * target_aspect)))
        else:
            h = max(h, min(ih, round(w / target_aspect)))
    left, right = _expand_span(left, right, _snap_within(w, need_w, iw, multiple), iw)
    top, bottom = _expand_span(top, bottom, _snap_within(h, need_h, ih, multiple), ih)
    return left, top, right, bottom


def outpaint_canvas(
    image: Image.Image,
    opts: OutpaintOptions,
    fill: str = DEFAULT_INFILL,
    seed: int = 0,
    feather: float = 0,
) -> tuple[Image.Image, Image.Image, Box]:
    """Extend `image` by the sides in `opts` for outpainting.

    Returns (extended RGB image, mask "L", original box). The new area is pre-filled from the
    original with `fill`, one of `core.infill.INFILL_METHODS` (default "telea"), or "none" (black).
    The mask is `outpaint_mask`: white over the new area and `opts.overlap` px into the original
    along each extended side, ramping to 0 with `feather` inside that band. Original pixels are kept
    unchanged in the extended image.
    """
    if fill not in OUTPAINT_FILLS:
        raise ValueError(f"Unknown outpaint fill {fill!r}; use one of {', '.join(OUTPAINT_FILLS)}.")
    src = np.asarray(image.convert("RGB"))
    h, w = src.shape[:2]
    left, top, right, bottom = (max(0, int(v)) for v in (opts.left, opts.top, opts.right, opts.bottom))
    box = (left, top, left + w, top + h)
    extended = np.pad(src, ((top, bottom), (left, right), (0, 0)))
    if fill != "none":
        new_area = np.ones(extended.shape[:2], bool)
        new_area[top : top + h, left : left + w] = False
        extended = infill(extended, new_area, fill, seed)
    size = (extended.shape[1], extended.shape[0])
    mask = outpaint_mask(size, box, opts.overlap, feather)
    return Image.fromarray(extended, mode="RGB"), mask, box


def outpaint_mask(size: Size, box: Box, overlap: int, feather: float = 0) -> Image.Image:
    """The outpaint's compositing mask ("L", `size`): 255 over the new area (outside `box`); inside
    the original, a band `overlap` px deep along each side the image grew on.

    The contract is exact: a pixel `overlap` px or deeper into the original is 0 (kept), feather
    included. Within the band the mask is 255, then falls smoothly to 0 over the band's innermost
    min(overlap, 2 * feather) px (about the visible width of a Gaussian edge of radius `feather`).
    With overlap 0 the original is untouched (hard edge).
    """
    width, height = size
    left, top, right, bottom = box
    depth = _depth_from_new_area(box, size)
    ramp = min(max(0, int(overlap)), math.ceil(2 * max(0.0, feather)))
    inner = np.clip((overlap - depth) / (ramp + 1), 0.0, 1.0)
    inner = np.where(depth < overlap - ramp, 1.0, inner * inner * (3 - 2 * inner))  # smoothstep
    mask = np.full((height, width), 255, np.uint8)
    mask[top:bottom, left:right] = np.rint(inner * 255).astype(np.uint8)
    return Image.fromarray(mask, mode="L")


def _depth_from_new_area(box: Box, size: Size) -> np.ndarray:
    """For each pixel of `box`: how many px it lies from the nearest side the image grew on
    (0 = on that side's first row or column; inf when the image did not grow)."""
    width, height = size
    left, top, right, bottom = box
    xs = np.arange(right - left, dtype=np.float64)
    ys = np.arange(bottom - top, dtype=np.float64)[:, None]
    inf = np.inf
    depth_x = np.minimum(xs if left > 0 else inf, xs[::-1] if right < width else inf)
    depth_y = np.minimum(ys if top > 0 else inf, ys[::-1] if bottom < height else inf)
    return np.minimum(np.broadcast_to(depth_x, (bottom - top, right - left)), depth_y)


def _snap_within(wanted: int, needed: int, limit: int, multiple: int) -> int:
    """`wanted` rounded up to a multiple if that fits in `limit`, else the largest multiple that
    fits and still holds `needed`, else the whole `limit`."""
    up = math.ceil(wanted / multiple) * multiple
    if up <= limit:
        return up
    down = limit // multiple * multiple
    return down if down >= needed else limit


def _expand_span(lo: int, hi: int, target: int, limit: int) -> tuple[int, int]:
    """Grow [lo, hi) to `target` long around its centre, shifted to stay within [0, limit)."""
    target = min(max(target, hi - lo), limit)
    extra = target - (hi - lo)
    lo -= extra // 2
    hi += extra - extra // 2
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > limit:
        lo, hi = lo - (hi - limit), limit
    return max(lo, 0), hi
