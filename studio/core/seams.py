"""Seam check: how visible the join between generated and original pixels is, and a one-click fix.

After an inpaint or outpaint the result is the generated image composited over the original through
the plan's effective mask. `measure_seam` looks along the mask's boundary (where the mask crosses
128) and measures:
- the colour break: CIE76 ΔE between the result's mean colours just inside and just outside the
  boundary (`band` px on each side, averaged locally), beyond the step the original already had
  there (an edge that was in the picture is not a seam);
- the gradient break: the result's gradient on the boundary over its gradient nearby, relative to
  the same ratio in the original (1.0 = no sharper than the picture around it).
It is flagged when either exceeds its threshold (`COLOUR_BREAK_LIMIT`, `GRADIENT_BREAK_LIMIT`).

`blend_seam` is the colour-matched fix: it shifts the generated side's colours so they meet the
original's at the boundary, fading the shift out over `band` px into the generated area. It never
changes a pixel where the mask is 0. `seam_band_mask` gives the thin band for the other fix, a
low-strength re-inpaint of the join.

Arrays: images uint8 HxWx3 (RGB), masks HxW (uint8 0..255 or bool; 255/True = generated), all in the
result's pixels (for an outpaint: the grown image, with the plan's image as `original`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]

COLOUR_BREAK_LIMIT = 5.0  # mean ΔE across the boundary above which a seam is flagged (2.3 ≈ just visible)
GRADIENT_BREAK_LIMIT = 2.0  # boundary gradient / nearby gradient (relative to the original) flagged above
DEFAULT_BAND = 4  # px on each side of the boundary the colours are compared over
DEFAULT_BLEND_BAND = 24  # px into the generated area the fix fades out over


@dataclass(frozen=True)
class SeamReport:
    """The measure of one composite's seam (see the module docstring)."""

    colour_break: float  # mean ΔE (CIE76) across the boundary, beyond the original's own step
    gradient_break: float  # × the nearby gradient, relative to the original (1.0 = none)
    band: int  # px compared on each side of the boundary
    worst_box: Box | None  # (left, top, right, bottom) around the worst stretch; None: no boundary
    flagged: bool  # colour_break > COLOUR_BREAK_LIMIT or gradient_break > GRADIENT_BREAK_LIMIT
    boundary_px: int = 0  # boundary pixels measured (0: the mask has no boundary inside the image)

    def summary(self) -> str:
        """One line for the result's details, e.g. "seam: colour 3.1, gradient 1.2× (ok)"."""
        raise NotImplementedError


def measure_seam(
    result: np.ndarray,
    original: np.ndarray,
    mask: np.ndarray,
    band: int = DEFAULT_BAND,
    colour_limit: float = COLOUR_BREAK_LIMIT,
    gradient_limit: float = GRADIENT_BREAK_LIMIT,
) -> SeamReport:
    """Measure the seam of `result` (the composite) against `original` along `mask`'s boundary."""
    raise NotImplementedError


def blend_seam(
    result: np.ndarray, original: np.ndarray, mask: np.ndarray, band: int = DEFAULT_BLEND_BAND
) -> np.ndarray:
    """`result` with the generated side colour-matched to the original at the boundary, the
    correction fading out over `band` px into the generated area. Pixels where `mask` is 0 are
    returned byte-identical."""
    raise NotImplementedError


def seam_band_mask(mask: np.ndarray, width: int = 8) -> np.ndarray:
    """A uint8 mask (255 = regenerate) of the pixels within `width` px of the boundary on either
    side, for a thin low-strength re-inpaint of the join."""
    raise NotImplementedError
