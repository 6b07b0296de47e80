"""Honest previews: a step preview is composited like the result, never touching kept pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.plan import plan
from studio.core.preview_composite import composite_preview, preview_base
from studio.core.request import GenerationRequest, InpaintArea, MaskOptions, Mode, OutpaintOptions


def _document(w: int = 160, h: int = 96) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _mask(size: tuple[int, int], box: tuple[int, int, int, int]) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def _inpaint(doc: np.ndarray, area: InpaintArea, **options: int) -> GenerationRequest:
    size = (doc.shape[1], doc.shape[0])
    return GenerationRequest(
        mode=Mode.INPAINT,
        init_image=Image.fromarray(doc),
        mask=_mask(size, (60, 30, 90, 60)),
        mask_options=MaskOptions(area=area, **options),
        width=64,
        height=64,
    )


def _crop(doc: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return doc[y0:y1, x0:x1]


@pytest.mark.parametrize("area", [InpaintArea.ONLY_MASKED, InpaintArea.WHOLE_IMAGE])
def test_preview_never_touches_pixels_outside_the_effective_mask(area: InpaintArea) -> None:
    doc = _document()
    p = plan(_inpaint(doc, area, grow=4, feather=3, padding=8))
    base = preview_base(p, doc)
    w, h = p.generation_size
    preview = np.full((h, w, 3), (250, 0, 250), np.uint8)  # nothing like the document
    patch = composite_preview(preview, base)
    assert base.box == p.region_in_source
    assert patch.shape == (base.box[3] - base.box[1], base.box[2] - base.box[0], 3)
    weight = _crop(np.asarray(p.mask), p.region)
    kept = weight == 0
    assert kept.any() and (~kept).any()
    assert np.array_equal(patch[kept], _crop(doc, base.box)[kept])  # exactly the document
    full = weight == 255
    assert np.array_equal(patch[full], np.broadcast_to((250, 0, 250), patch[full].shape))
    between = (weight > 0) & (weight < 255)  # the feathered edge blends
    assert between.any() and not np.array_equal(patch[between], _crop(doc, base.box)[between])


def test_only_masked_preview_covers_only_the_region_not_the_whole_image() -> None:
    doc = _document()
    p = plan(_inpaint(doc, InpaintArea.ONLY_MASKED, padding=4))
    patch = composite_preview(np.zeros((*p.generation_size[::-1], 3), np.uint8), preview_base(p, doc))
    x0, y0, x1, y1 = p.region_in_source
    assert (x1 - x0, y1 - y0) != (doc.shape[1], doc.shape[0])
    assert patch.shape[:2] == (y1 - y0, x1 - x0)


def test_preview_uses_the_current_document_where_the_mask_keeps_it() -> None:
    """An undo made while the job runs shows at once: kept pixels come from the document given."""
    doc = _document()
    p = plan(_inpaint(doc, InpaintArea.ONLY_MASKED, padding=8))
    changed = doc.copy()
    changed[:] = 7
    patch = composite_preview(np.zeros((8, 8, 3), np.uint8), preview_base(p, changed))
    kept = _crop(np.asarray(p.mask), p.region) == 0
    assert (patch[kept] == 7).all()


def test_outpaint_preview_reaches_outside_the_document_and_keeps_its_inner_pixels() -> None:
    doc = _document(64, 48)
    request = GenerationRequest(
        mode=Mode.OUTPAINT,
        init_image=Image.fromarray(doc),
        outpaint=OutpaintOptions(left=32, top=16, overlap=8),
        width=64,
        height=64,
    )
    p = plan(request)
    base = preview_base(p, doc)
    assert base.box[0] == -32 and base.box[1] == -16
    patch = composite_preview(np.full((16, 16, 3), 200, np.uint8), base)
    weight = _crop(np.asarray(p.mask), p.region)
    inside = np.zeros(weight.shape, bool)
    inside[16:, 32:] = True  # the document's place in the patch
    kept = inside & (weight == 0)
    assert kept.any()
    assert np.array_equal(patch[kept], doc[kept[16:, 32:]])
    new_area = ~inside & (weight == 255)
    assert new_area.sum() > 0.9 * (~inside).sum()  # the new area is (all but its feathered edge) …
    assert (patch[new_area] == 200).all()  # … all preview


def test_preview_of_a_document_of_another_size_uses_the_plan_image() -> None:
    """The canvas changed size since the job started: nothing is taken from the wrong pixels."""
    doc = _document()
    p = plan(_inpaint(doc, InpaintArea.ONLY_MASKED))
    base = preview_base(p, np.zeros((10, 10, 3), np.uint8))
    assert np.array_equal(base.base, _crop(doc, p.region))
