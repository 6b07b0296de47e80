"""Seam check: how visible the join between generated and original pixels is, and a one-click fix.

After an inpaint or outpaint the result is the generated image composited over the original through
the plan's effective mask. The mask splits the result into the generated core (mask >= 250), the
untouched original (mask 0) and, between them, the feathered transition. `measure_seam` compares
the two sides of that transition:
- colour break: CIE76 ΔE between the result's local mean colours in the core and in the original,
  `band` px deep on each side, beyond the step the original already had there (an edge that was in
  the picture is not a seam); the mean along the boundary is reported;
- gradient break: the result's colour gradient along the transition over its gradient `band`..3x
  `band` px away, relative to the same ratio in the original (1.0 = no sharper than the picture).
It is flagged when either exceeds its limit (`COLOUR_BREAK_LIMIT`, `GRADIENT_BREAK_LIMIT`). Measured
in tests/core/test_seams.py on a photo-like picture: a good composite reads colour 0.0-0.3 and
gradient 0.8-1.0x; a warm-cast inpaint colour 18.2 (hard edge), 13.5 (feather 4), 8.6 (feather 8),
and 0.1 after `blend_seam`; a 2 px dark outline along the join gradient 3.5x. About 0.45 s for a
768x768 image (`bench/bench_infill.py`, 2-core VM): run it off the GUI thread.

`blend_seam` is the colour-matched fix: the colour step (beyond the original's) is measured along the
boundary and taken off the generated side: fully in the core's first `band` px and, in the
transition, in proportion to the mask (the generated share of each pixel), fading out deeper into
the core. It never changes a pixel where the mask is 0. `seam_band_mask` gives the thin band for the
other fix, a low-strength re-inpaint of the join. `measure_plan_seam` / `blend_plan_seam` do the same
for a job's result image with its `GenerationPlan` (image and effective mask; mode and alpha kept).

Arrays: images uint8 HxWx3 (RGB), masks HxW (uint8 0..255 or bool; 255/True = generated), all in the
result's pixels (for an outpaint: the grown image, with the plan's image as `original`).
cv2 is imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from studio.core.plan import GenerationPlan

Box = tuple[int, int, int, int]

COLOUR_BREAK_LIMIT = 5.0  # mean ΔE along the boundary above which a seam is flagged (2.3 ≈ just visible)
GRADIENT_BREAK_LIMIT = 2.0  # × the nearby gradient (relative to the original) above which it is flagged
DEFAULT_BAND = 4  # px on each side of the boundary the colours are compared over
DEFAULT_BLEND_BAND = 24  # px into the generated core the fix fades out over
CORE_COVERAGE = 250 / 255  # mask value from which a pixel is wholly generated


@dataclass(frozen=True)
class SeamReport:
    """The measure of one composite's seam (see the module docstring)."""

    colour_break: float  # mean ΔE (CIE76) across the boundary, beyond the original's own step
    gradient_break: float  # × the nearby gradient, relative to the original (1.0 = none)
    band: int  # px compared on each side of the boundary
    worst_box: Box | None  # (left, top, right, bottom) around the worst stretch; None: no boundary
    flagged: bool  # colour_break or gradient_break above its limit
    boundary_px: int = 0  # boundary pixels measured (0: the mask has no boundary inside the image)

    def summary(self) -> str:
        """One line for the result's details, e.g. "seam: colour 3.1, gradient 1.2× (ok)"."""
        if not self.boundary_px:
            return "seam: none (the mask has no edge inside the image)"
        verdict = "visible" if self.flagged else "ok"
        return f"seam: colour {self.colour_break:.1f}, gradient {self.gradient_break:.1f}× ({verdict})"


def measure_seam(
    result: np.ndarray,
    original: np.ndarray,
    mask: np.ndarray,
    band: int = DEFAULT_BAND,
    colour_limit: float = COLOUR_BREAK_LIMIT,
    gradient_limit: float = GRADIENT_BREAK_LIMIT,
) -> SeamReport:
    """Measure the seam of `result` (the composite) against `original` along `mask`'s boundary.

    Raises ValueError when the arrays do not fit together."""
    band = max(1, int(band))
    sides = _Sides(_checked(result, original, mask), band)
    if not sides.boundary.any():
        return SeamReport(0.0, 1.0, band, None, False, 0)
    lab_result, lab_original = _lab(result), _lab(original)
    excess_colour = np.maximum(sides.step(lab_result) - sides.step(lab_original), 0.0)
    gradient_break = sides.sharpness(_gradient(lab_result)) / max(
        sides.sharpness(_gradient(lab_original)), 1.0
    )
    colour_break = float(excess_colour[sides.boundary].mean())
    return SeamReport(
        colour_break=round(colour_break, 2),
        gradient_break=round(float(gradient_break), 2),
        band=band,
        worst_box=sides.worst_box(excess_colour),
        flagged=colour_break > colour_limit or gradient_break > gradient_limit,
        boundary_px=int(sides.boundary.sum()),
    )


def blend_seam(
    result: np.ndarray, original: np.ndarray, mask: np.ndarray, band: int = DEFAULT_BLEND_BAND
) -> np.ndarray:
    """`result` with the generated side colour-matched to the original at the boundary.

    Each generated pixel is shifted by the colour step (beyond the original's own) at its nearest
    boundary point: fully in the core's first `DEFAULT_BAND` px, fading smoothly to nothing `band` px
    deep, and in the feathered transition in proportion to the mask. Every pixel where `mask` is 0
    is returned byte-identical. Raises ValueError when the arrays do not fit together."""
    import cv2

    coverage = _checked(result, original, mask)
    sides = _Sides(coverage, DEFAULT_BAND)
    if not sides.boundary.any():
        return np.array(result, copy=True)
    rgb_result, rgb_original = result.astype(np.float32), original.astype(np.float32)
    shift = sides.step_vector(rgb_result) - sides.step_vector(rgb_original)
    _, nearest = cv2.distanceTransformWithLabels(
        (~sides.boundary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )
    lookup = np.zeros((int(nearest.max()) + 1, 3), np.float32)
    lookup[nearest[sides.boundary]] = shift[sides.boundary]
    fade = _fade(sides.depth_core, DEFAULT_BAND, max(int(band), DEFAULT_BAND + 1))
    weight = np.where(sides.core, fade, coverage)  # transition: the generated share of the pixel
    change = weight > 0
    corrected = rgb_result[change] + weight[change][:, None] * lookup[nearest[change]]
    out = np.array(result, copy=True)
    out[change] = np.clip(np.rint(corrected), 0, 255).astype(np.uint8)
    return out


def seam_band_mask(mask: np.ndarray, width: int = 8) -> np.ndarray:
    """A uint8 mask (255 = regenerate) of the transition and the pixels within `width` px of it on
    either side, for a thin low-strength re-inpaint of the join. Raises ValueError for a mask that is
    not a 2-D array."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"The mask must be a single-channel image (HxW), not an array of shape {m.shape}.")
    sides = _Sides(_coverage(m), max(1, int(width)))
    if not sides.boundary.any():
        return np.zeros(m.shape, np.uint8)
    return np.where(sides.line | sides.ring_core | sides.ring_untouched, 255, 0).astype(np.uint8)


def measure_plan_seam(plan: GenerationPlan, result: Image.Image, band: int = DEFAULT_BAND) -> SeamReport:
    """`measure_seam` of one inpaint/outpaint result against its plan's image and effective mask
    (colour channels; alpha is ignored). Raises ValueError for a plan without an image and mask."""
    image, mask = _plan_inputs(plan)
    return measure_seam(_rgb(result), _rgb(image), np.asarray(mask), band)


def blend_plan_seam(plan: GenerationPlan, result: Image.Image, band: int = DEFAULT_BLEND_BAND) -> Image.Image:
    """`blend_seam` of one inpaint/outpaint result: the same mode and size back, alpha kept; every
    pixel where the plan's mask is 0 is unchanged."""
    from PIL import Image

    image, mask = _plan_inputs(plan)
    mask_array = np.asarray(mask)
    fixed = Image.fromarray(blend_seam(_rgb(result), _rgb(image), mask_array, band), mode="RGB")
    if result.mode in ("RGBA", "LA"):
        fixed.putalpha(result.getchannel("A"))
    fixed = fixed.convert(result.mode) if fixed.mode != result.mode else fixed
    fixed.paste(result, mask=Image.fromarray(np.where(mask_array == 0, 255, 0).astype(np.uint8), "L"))
    return fixed


def _plan_inputs(plan: GenerationPlan) -> tuple[Image.Image, Image.Image]:
    if plan.image is None or plan.mask is None:
        raise ValueError("Only an inpaint or outpaint result has a seam to check.")
    return plan.image, plan.mask


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


class _Sides:
    """The generated core, the untouched original and the transition between them, with each
    side's depth from the transition and its ring `band` px deep."""

    def __init__(self, coverage: np.ndarray, band: int) -> None:
        import cv2

        precise = cv2.DIST_MASK_PRECISE
        self.band, self.shape = band, coverage.shape
        self.core = coverage >= CORE_COVERAGE
        touched = coverage > 0
        untouched = ~touched
        self.depth_core = cv2.distanceTransform(self.core.astype(np.uint8), cv2.DIST_L2, precise)
        self.depth_untouched = cv2.distanceTransform(untouched.astype(np.uint8), cv2.DIST_L2, precise)
        transition = touched & ~self.core
        to_untouched = cv2.distanceTransform(touched.astype(np.uint8), cv2.DIST_L2, precise)
        self.width = math.ceil(float(to_untouched[transition].max())) if transition.any() else 0
        self.ring_core = self.core & (self.depth_core <= band)
        self.ring_untouched = untouched & (self.depth_untouched <= band)
        # the core's pixels at the transition; none when no original pixel is left to meet
        self.boundary = self.core & (self.depth_core < 1.5) if untouched.any() else np.zeros_like(self.core)
        self.line = transition | self.boundary | (untouched & (self.depth_untouched < 1.5))

    def step_vector(self, image: np.ndarray) -> np.ndarray:
        """Per pixel: the local mean over the untouched ring minus that over the core ring."""
        return self._local_mean(image, self.ring_untouched) - self._local_mean(image, self.ring_core)

    def step(self, image: np.ndarray) -> np.ndarray:
        """Per pixel: the length of `step_vector` (ΔE for Lab images)."""
        return np.asarray(np.linalg.norm(self.step_vector(image), axis=-1))

    def sharpness(self, gradient: np.ndarray) -> float:
        """Mean gradient along the transition over the mean gradient `band`..3*`band` px away on
        either side, each plus 1 (flat areas do not make a ratio out of noise)."""
        depth = np.maximum(np.where(self.core, self.depth_core, 0), self.depth_untouched)
        near = (depth > self.band) & (depth <= 3 * self.band)
        on_line = float(gradient[self.line].mean())
        nearby = float(gradient[near].mean()) if near.any() else on_line
        return (on_line + 1.0) / (nearby + 1.0)

    def worst_box(self, score: np.ndarray) -> Box:
        """The box around the boundary stretch where `score` is highest on average."""
        import cv2

        reach = 4 * self.band + self.width
        window = (2 * reach + 1,) * 2
        weight = cv2.boxFilter(self.boundary.astype(np.float32), -1, window, normalize=False)
        scored = np.where(self.boundary, score, 0).astype(np.float32)
        total = cv2.boxFilter(scored, -1, window, normalize=False)
        local = np.where(self.boundary, total / np.maximum(weight, 1e-6), -np.inf)
        y, x = (int(v) for v in np.unravel_index(int(np.argmax(local)), local.shape))
        h, w = self.shape
        return max(0, x - reach), max(0, y - reach), min(w, x + reach + 1), min(h, y + reach + 1)

    def _local_mean(self, image: np.ndarray, where: np.ndarray) -> np.ndarray:
        """Mean of `image` over `where` in a window reaching across the transition."""
        import cv2

        window = (2 * (self.band + self.width) + 1,) * 2
        weight = cv2.boxFilter(where.astype(np.float32), -1, window, normalize=False)
        masked = np.where(where[..., None], image, 0).astype(np.float32)
        total = cv2.boxFilter(masked, -1, window, normalize=False)
        return np.asarray(total / np.maximum(weight, 1e-6)[..., None])


def _checked(result: np.ndarray, original: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask's coverage (float32 HxW, 0..1) after checking the arrays fit together."""
    for name, image in (("result", result), ("original", original)):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"The {name} must be an 8-bit RGB image (HxWx3 uint8), not {image.dtype} {image.shape}."
            )
    m = np.asarray(mask)
    if result.shape != original.shape or m.shape != result.shape[:2]:
        raise ValueError(
            f"The result {result.shape[:2]}, original {original.shape[:2]} and mask {m.shape} "
            "must be the same size."
        )
    return _coverage(m)


def _coverage(mask: np.ndarray) -> np.ndarray:
    """0..1 per pixel: bool masks as 0/1, others as 0..255."""
    if mask.dtype == bool:
        return mask.astype(np.float32)
    return np.clip(mask.astype(np.float32) / 255.0, 0.0, 1.0)


def _lab(image: np.ndarray) -> np.ndarray:
    import cv2

    return np.asarray(cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))


def _gradient(lab: np.ndarray) -> np.ndarray:
    """Colour gradient magnitude (ΔE per pixel) over the L, a and b channels."""
    import cv2

    gx = cv2.Sobel(lab, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lab, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    return np.sqrt((gx * gx + gy * gy).sum(axis=-1))


def _fade(depth: np.ndarray, full: int, band: int) -> np.ndarray:
    """1 up to `full` px deep, falling smoothly to 0 at `band` px."""
    t = np.clip((band - depth) / float(band - full), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)
