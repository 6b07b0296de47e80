"""Mask operations for inpainting and outpainting: grow/shrink, feather, composite.

Masks are Pillow "L" images, white (255) = regenerate, black (0) = keep. `effective_mask` is the
mask that compositing uses; every pixel where it is 0 comes back byte-identical to the original.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image, ImageFilter

from studio.core.images import to_8bit
from studio.core.infill import DEFAULT_INFILL, infill
from studio.core.request import MaskedContent

log = logging.getLogger(__name__)

# A regular octagon of "radius" r is the Minkowski sum of an axis-aligned square of half-side a and
# two diagonal segments of half-length d, with a + 2d = r and sqrt(2) (a + d) = r.
_OCT_SQUARE = 0.41421356
_BLEND_MODES = ("RGB", "RGBA", "L", "LA")
_OCT_DIAGONAL = 0.29289322


def to_mask_array(img: Image.Image) -> np.ndarray:
    """A float32 HxW array in [0, 1] (RGBA images use their alpha channel when it is not all opaque)."""
    return np.asarray(_as_l(img), dtype=np.float32) / 255.0


def from_mask_array(arr: np.ndarray) -> Image.Image:
    """The inverse of `to_mask_array`: a float array in [0, 1] (or uint8) to an "L" image."""
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(np.asarray(arr, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="L")


def binarize(mask: Image.Image, threshold: int = 128) -> Image.Image:
    """Pixels >= threshold become 255, the rest 0."""
    return _as_l(mask).point(lambda v: 255 if v >= threshold else 0)


def is_empty(mask: Image.Image | None) -> bool:
    """True when there is no mask or no pixel of it is above 0."""
    return mask is None or _as_l(mask).getbbox() is None


def grow_mask(mask_L: Image.Image, px: int) -> Image.Image:
    """Dilate by `px` pixels with a round (octagonal) brush; negative `px` erodes.

    Erosion treats the outside of the image as masked, so a mask touching the border stays there.
    Work is limited to the mask's bounding box plus `px`, so small masks on large images are cheap.
    """
    mask = _as_l(mask_L)
    px = int(px)
    if px == 0:
        return mask.copy()
    bbox = mask.getbbox()
    if bbox is None:
        return mask.copy()
    arr = np.asarray(mask)
    r = abs(px)
    left, top = max(bbox[0] - r, 0), max(bbox[1] - r, 0)
    right, bottom = min(bbox[2] + r, mask.width), min(bbox[3] + r, mask.height)
    region = arr[top:bottom, left:right]
    grown = _dilate(region, r) if px > 0 else 255 - _dilate(255 - region, r)
    out = np.zeros_like(arr)
    out[top:bottom, left:right] = grown
    return Image.fromarray(out, mode="L")


def feather_mask(mask_L: Image.Image, radius: float) -> Image.Image:
    """Soften the mask edge with a Gaussian blur of `radius` pixels (0 returns a copy)."""
    mask = _as_l(mask_L)
    if radius <= 0:
        return mask.copy()
    return mask.filter(ImageFilter.GaussianBlur(radius))


def effective_mask(mask: Image.Image, grow: int = 0, feather: float = 0) -> Image.Image:
    """Grow (or shrink) then feather: the mask compositing uses."""
    return feather_mask(grow_mask(_as_l(mask), grow), feather)


def composite(original: Image.Image, generated: Image.Image, mask_L: Image.Image) -> Image.Image:
    """Blend `generated` over `original` through `mask_L` (255 = generated).

    The result has the original's size and mode (palette and other modes become RGBA); `generated`
    is resized to that size if needed. Where the mask is exactly 0 the result is byte-identical to
    `original`.
    """
    mask = _as_l(mask_L)
    if mask.size != original.size:
        raise ValueError(
            f"The mask is {mask.width}x{mask.height} but the image is "
            f"{original.width}x{original.height}; they must be the same size."
        )
    base = original if original.mode in _BLEND_MODES else original.convert("RGBA")
    gen = generated
    if gen.size != base.size:
        log.debug("Resizing generated %s to original %s for compositing", gen.size, base.size)
        gen = gen.resize(base.size, Image.Resampling.LANCZOS)
    if gen.mode != base.mode:
        gen = gen.convert(base.mode)
    # Pillow's masked paste leaves pixels under a 0 mask untouched (byte-identical).
    return Image.composite(gen, base, mask)


def prefill_masked(
    image: Image.Image,
    mask_L: Image.Image,
    fill: MaskedContent | str,
    seed: int = 0,
    method: str = DEFAULT_INFILL,
) -> Image.Image:
    """What the model starts from under the mask (every pixel where it is above 0), as RGB: the
    original, a blur of it, noise, or the surroundings filled in with `method`
    (`core.infill.INFILL_METHODS`, for `MaskedContent.INFILL`)."""
    fill = MaskedContent(fill)
    img = image.convert("RGB")
    if fill is MaskedContent.ORIGINAL:
        return img
    hole = binarize(mask_L, 1)
    if fill is MaskedContent.INFILL:
        filled = infill(np.asarray(img), np.asarray(hole) > 0, method, seed)
        return Image.fromarray(filled, mode="RGB")
    if fill is MaskedContent.BLUR:
        radius = max(8.0, min(img.size) / 16)
        filler = img.filter(ImageFilter.GaussianBlur(radius))
    else:
        rng = np.random.default_rng(seed)
        noise = rng.integers(0, 256, size=(img.height, img.width, 3), dtype=np.uint8)
        filler = Image.fromarray(noise, mode="RGB")
    return Image.composite(filler, img, hole)


def _as_l(img: Image.Image) -> Image.Image:
    img = to_8bit(img)  # 16-bit greyscale scaled, not clipped to white
    if img.mode == "L":
        return img
    if img.mode in ("RGBA", "LA"):
        alpha = img.getchannel("A")
        if alpha.getextrema() != (255, 255):
            return alpha
    return img.convert("L")


def _dilate(arr: np.ndarray, r: int) -> np.ndarray:
    """Grey dilation by an octagon of radius r (zero outside)."""
    a = int(round(r * _OCT_SQUARE))
    d = int(round(r * _OCT_DIAGONAL))
    if a + 2 * d < r:  # rounding: keep the reach along the axes exactly r
        a = r - 2 * d
    out = np.pad(arr, r)  # room for the window on every side; cropped off below
    for dy, dx, reach in ((1, 0, a), (0, 1, a), (1, 1, d), (1, -1, d)):
        if reach > 0:
            out = _window_max(out, dy, dx, reach)
    return out[r : r + arr.shape[0], r : r + arr.shape[1]]


def _shift(arr: np.ndarray, k: int, dy: int, dx: int) -> np.ndarray:
    """b[y, x] = arr[y + k*dy, x + k*dx], 0 where that falls outside."""
    h, w = arr.shape
    sy, sx = k * dy, k * dx
    out = np.zeros_like(arr)
    if abs(sy) >= h or abs(sx) >= w:
        return out
    src_y = slice(max(sy, 0), h + min(sy, 0))
    dst_y = slice(max(-sy, 0), h + min(-sy, 0))
    src_x = slice(max(sx, 0), w + min(sx, 0))
    dst_x = slice(max(-sx, 0), w + min(-sx, 0))
    out[dst_y, dst_x] = arr[src_y, src_x]
    return out


def _window_max(arr: np.ndarray, dy: int, dx: int, r: int) -> np.ndarray:
    """max of arr[p + t*(dy, dx)] for t in [-r, r], by doubling (O(log r) passes).

    Values within r of the array's edge are only right if the array is padded by r beforehand.
    """
    h, w = arr.shape
    limits = [n - 1 for n, step in ((h, dy), (w, dx)) if step]
    r = min([r, *limits])  # a longer reach leaves the array: same result
    width = 2 * r + 1
    m = _shift(arr, -r, dy, dx)  # window [p - r, p + r] becomes a forward window from p
    span = 1
    while span * 2 <= width:
        m = np.maximum(m, _shift(m, span, dy, dx))
        span *= 2
    if span < width:
        m = np.maximum(m, _shift(m, width - span, dy, dx))
    return m
