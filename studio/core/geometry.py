"""Sizes and boxes: mask boxes, crop-to-mask for inpainting, outpaint canvases, snapping, aspects.

Boxes are (left, top, right, bottom) with right/bottom exclusive, like Pillow's.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

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
OUTPAINT_FILLS = ("edge", "flat", "none")


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
    image: Image.Image, opts: OutpaintOptions, fill: str = "edge", seed: int = 0
) -> tuple[Image.Image, Image.Image, Box]:
    """Extend `image` by the sides in `opts` for outpainting.

    Returns (extended RGB image, mask "L", original box). The new area is pre-filled ("edge":
    edge pixels stretched outward, blurred into a soft colour field with slight noise; "flat": the
    image's mean colour; "none": black). The mask is white over the new area plus `opts.overlap`
    pixels into the original along each extended side. Original pixels are kept unchanged.
    """
    if fill not in OUTPAINT_FILLS:
        raise ValueError(f"Unknown outpaint fill {fill!r}; use one of {', '.join(OUTPAINT_FILLS)}.")
    src = image.convert("RGB")
    w, h = src.size
    left, top, right, bottom = (max(0, int(v)) for v in (opts.left, opts.top, opts.right, opts.bottom))
    box = (left, top, left + w, top + h)
    arr = np.asarray(src)
    pad = ((top, bottom), (left, right), (0, 0))
    if fill == "edge":
        extended = _soft_edge_fill(arr, pad, seed)
    elif fill == "flat":
        mean = arr.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
        extended = np.empty((h + top + bottom, w + left + right, 3), np.uint8)
        extended[:] = mean
    else:
        extended = np.pad(arr, pad)
    extended[top : top + h, left : left + w] = arr
    mask = _outpaint_mask(extended.shape[:2], box, opts.overlap, (left, top, right, bottom))
    return Image.fromarray(extended, mode="RGB"), mask, box


def _soft_edge_fill(arr: np.ndarray, pad: tuple, seed: int) -> np.ndarray:
    """Edge pixels stretched outward, blurred to a colour field, with a little noise."""
    stretched = np.pad(arr, pad, mode="edge")
    reach = max(max(p) for p in pad[:2])
    radius = max(4.0, min(64.0, reach / 3))
    blurred = np.asarray(Image.fromarray(stretched).filter(ImageFilter.GaussianBlur(radius)))
    noise = np.random.default_rng(seed).normal(0.0, 6.0, blurred.shape)
    return np.clip(blurred + noise, 0, 255).astype(np.uint8)


def _outpaint_mask(shape: tuple[int, int], box: Box, overlap: int, sides: Box) -> Image.Image:
    H, W = shape
    left, top, right, bottom = box
    o_w = min(max(0, overlap), (right - left) // 2)
    o_h = min(max(0, overlap), (bottom - top) // 2)
    keep = np.zeros((H, W), bool)
    keep[
        top + (o_h if sides[1] else 0) : bottom - (o_h if sides[3] else 0),
        left + (o_w if sides[0] else 0) : right - (o_w if sides[2] else 0),
    ] = True
    return Image.fromarray(np.where(keep, 0, 255).astype(np.uint8), mode="L")


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
