"""Honest live previews: a job's step preview as the artist will get it, placed on the document.

A step preview shows the pipeline's view of `plan.region` (at the generation size). The result the
artist gets is that region scaled back and composited through the plan's effective mask over the
input, so the preview is composited the same way: `preview_base(plan, document)` prepares, once per
job, the region's pixels and weights; `composite_preview(preview, base)` blends one step's preview.
Wherever the effective mask is 0 the patch is the document's pixel, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from studio.core.geometry import Box
from studio.core.plan import GenerationPlan


@dataclass(frozen=True)
class PreviewBase:
    """What every step preview of a job is composited onto."""

    box: Box  # the region in document pixels (negative where an outpaint reaches left or above)
    base: np.ndarray  # HxWx3 uint8: the document's pixels (the job's working image outside it)
    weight: np.ndarray | None  # HxWx1 uint32 in 0..255: the effective mask; None = all regenerated

    @property
    def size(self) -> tuple[int, int]:
        return self.base.shape[1], self.base.shape[0]


def preview_base(plan: GenerationPlan, document: np.ndarray) -> PreviewBase:
    """The region's pixels and mask weights for `plan`, with `document` (HxWx3 uint8) wherever it
    lies inside the region and is the image the plan was made for (same size)."""
    left, top, right, bottom = plan.region
    if plan.image is not None:
        working = np.asarray(plan.image.convert("RGB"))
        base = working[top:bottom, left:right].copy()
    else:
        base = np.zeros((bottom - top, right - left, 3), np.uint8)
    if document.shape[:2] == (plan.source_size[1], plan.source_size[0]):
        _paste_document(base, plan, document)
    weight = None
    if plan.mask is not None:
        mask = np.asarray(plan.mask.convert("L"))[top:bottom, left:right]
        weight = mask.astype(np.uint32)[..., None]
    return PreviewBase(plan.region_in_source, base, weight)


def composite_preview(preview: np.ndarray, base: PreviewBase) -> np.ndarray:
    """`preview` (HxWx3 uint8 of any size) scaled to the region and blended through its mask."""
    width, height = base.size
    if preview.shape[:2] != (height, width):
        scaled = Image.fromarray(np.ascontiguousarray(preview[..., :3])).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        preview = np.asarray(scaled)
    if base.weight is None:
        return np.array(preview[..., :3], np.uint8)
    w = base.weight
    mixed = (base.base * (255 - w) + preview[..., :3] * w + 127) // 255  # uint32: no overflow
    return mixed.astype(np.uint8)


def _paste_document(base: np.ndarray, plan: GenerationPlan, document: np.ndarray) -> None:
    """Copy the document's pixels that fall inside the region into `base` (in place)."""
    x0, y0, x1, y1 = plan.region_in_source
    doc_h, doc_w = document.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, doc_w), min(y1, doc_h)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    base[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = document[cy0:cy1, cx0:cx1, :3]
