"""Fill a hole in an RGB image from its surroundings, so new or masked areas start from plausible
colours (an outpaint's new area, inpainting's "infill" masked content).

Methods (`INFILL_METHODS`):
- "telea": OpenCV's fast-marching inpainting (Telea 2004): colours flow in from the hole's edge.
- "ns": OpenCV's Navier-Stokes inpainting (Bertalmio 2001): continues edges (isophotes) into the hole.
- "stretch": each hole pixel takes the nearest known pixel's colour (edges stretched outward),
  blurred into a soft colour field with slight noise (`seed`); what outpaint did before "telea".
- "flat": the mean colour of the known pixels.

OpenCV's inpainting is slow on large holes (its cost grows with hole area x radius), so "telea" and
"ns" work at a reduced resolution (longer side about `WORK_SIDE` px), upsample, then redo a thin band
along the hole's edge at full resolution so the join keeps the full-resolution detail. Measured with
`bench/bench_infill.py` on this project's 2-core VM (shared, load 3-4), a 512x512 photo-like image
outpainted 128 px on every side (768x768, a 327k px hole), medians: "telea" 0.15-0.23 s vs 0.78-0.92 s
at full resolution (3.4-6.3x faster), "ns" 0.15-0.21 s vs 0.71-0.73 s (3.4-5.0x); "stretch" 0.19 s,
"flat" 0.07 s. The reduced result differs from the full-resolution one by a mean 7 levels of 255
over that hole, 0.2 within 4 px of the join (tests/core/test_infill.py).

cv2 is imported inside the functions that use it: importing this module stays cheap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

INFILL_METHODS: tuple[str, ...] = ("telea", "ns", "stretch", "flat")
DEFAULT_INFILL = "telea"
WORK_SIDE = 256  # longer side (px) OpenCV's inpainting runs at for large images
NEUTRAL_GREY = (127, 127, 127)  # what a hole with nothing around it is filled with

_INPAINT_RADIUS = 3  # OpenCV's neighbourhood radius, px
_STRETCH_NOISE = 6.0  # standard deviation of the stretch method's noise, 0..255 units


def check_infill_method(method: object) -> str:
    """`method` if it is one of `INFILL_METHODS`; else ValueError with a message a person can act on."""
    if not isinstance(method, str) or method not in INFILL_METHODS:
        raise ValueError(f"Unknown infill method {method!r}; use one of {', '.join(INFILL_METHODS)}.")
    return method


def infill(rgb: np.ndarray, hole: np.ndarray, method: str = DEFAULT_INFILL, seed: int = 0) -> np.ndarray:
    """`rgb` (uint8 HxWx3) with the pixels under `hole` (HxW, bool or uint8: non-zero = fill)
    replaced by colours from their surroundings; every other pixel is returned unchanged.

    Whatever `rgb` holds under the hole is never read. A hole covering the whole image has nothing
    to fill from and becomes `NEUTRAL_GREY`. Raises ValueError for an unknown method or arrays
    that do not fit together.
    """
    fill = _FILLERS.get(check_infill_method(method))
    assert fill is not None  # every checked method has a filler
    image, where = _checked_arrays(rgb, hole)
    out = image.copy()
    if not where.any():
        return out
    if where.all():
        log.info("Infill: the hole covers the whole image; filling it with neutral grey")
        out[:] = NEUTRAL_GREY
        return out
    filled = fill(image, where, seed)
    out[where] = filled[where]
    return out


def _checked_arrays(rgb: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image, where = np.asarray(rgb), np.asarray(hole)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"Infill needs an 8-bit RGB image (HxWx3 uint8), not {image.dtype} {image.shape}.")
    if where.shape != image.shape[:2]:
        raise ValueError(
            f"The hole is {where.shape[1]}x{where.shape[0]} but the image is "
            f"{image.shape[1]}x{image.shape[0]}; they must be the same size."
        )
    return np.ascontiguousarray(image), where.astype(bool)


def _telea(rgb: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    import cv2

    return _opencv_inpaint(rgb, hole, cv2.INPAINT_TELEA)


def _navier_stokes(rgb: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    import cv2

    return _opencv_inpaint(rgb, hole, cv2.INPAINT_NS)


def _opencv_inpaint(rgb: np.ndarray, hole: np.ndarray, flag: int) -> np.ndarray:
    """OpenCV inpainting, at reduced resolution when the image is large (see the module docstring)."""
    import cv2

    h, w = hole.shape
    hole_u8 = hole.astype(np.uint8) * 255
    factor = math.ceil(max(h, w) / WORK_SIDE)
    if factor <= 1:
        return cv2.inpaint(rgb, hole_u8, _INPAINT_RADIUS, flag)
    small_size = (math.ceil(w / factor), math.ceil(h / factor))
    small_hole = cv2.resize(hole_u8, small_size, interpolation=cv2.INTER_AREA) > 0  # any hole: hole
    if small_hole.all():  # the known pixels are too thin to survive the reduction
        return cv2.inpaint(rgb, hole_u8, _INPAINT_RADIUS, flag)
    small = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
    coarse = cv2.inpaint(small, small_hole.astype(np.uint8) * 255, _INPAINT_RADIUS, flag)
    work = rgb.copy()
    work[hole] = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)[hole]
    depth = cv2.distanceTransform(hole_u8, cv2.DIST_L2, 3)  # distance to the nearest known pixel
    edge_band = hole & (depth <= 2 * factor + _INPAINT_RADIUS)
    return cv2.inpaint(work, edge_band.astype(np.uint8) * 255, _INPAINT_RADIUS, flag)


def _stretch(rgb: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """Nearest known colour, blurred in proportion to the hole's depth, plus slight noise."""
    import cv2

    known = ~hole
    distance, labels = cv2.distanceTransformWithLabels(
        hole.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    palette = np.zeros((int(labels.max()) + 1, 3), np.uint8)
    palette[labels[known]] = rgb[known]  # each known pixel is its own label
    stretched = palette[labels]
    radius = max(4.0, min(64.0, float(distance.max()) / 3))
    blurred = _wide_blur(stretched, radius)
    noise = np.random.default_rng(seed).normal(0.0, _STRETCH_NOISE, blurred.shape)
    return np.clip(blurred + noise, 0, 255).astype(np.uint8)


def _wide_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of `sigma` px (float32), run on a copy reduced so the kernel stays small."""
    import cv2

    h, w = rgb.shape[:2]
    factor = max(1, int(sigma // 4))
    if factor == 1:
        return cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    small = cv2.resize(rgb, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small.astype(np.float32), (0, 0), sigma / factor)
    return np.asarray(cv2.resize(blurred, (w, h), interpolation=cv2.INTER_LINEAR))


def _flat(rgb: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    mean = rgb[~hole].reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    return np.broadcast_to(mean, rgb.shape)


_FILLERS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "telea": _telea,
    "ns": _navier_stokes,
    "stretch": _stretch,
    "flat": _flat,
}
