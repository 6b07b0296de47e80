"""Document: edits, undo/redo with a byte budget, canvas resize, files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.document import Document


def _noise(w: int = 64, h: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_blank_and_size() -> None:
    doc = Document.blank(40, 30, (10, 20, 30))
    assert doc.size == (40, 30)
    assert (doc.image == (10, 20, 30)).all()
    assert not doc.mask.any()
    assert not doc.dirty


def test_stroke_records_only_dirty_rect_and_undoes() -> None:
    doc = Document(_noise())
    doc.begin_stroke()
    doc.mask[10:20, 5:15] = 255
    doc.stroke_touched((5, 10, 15, 20))
    doc.end_stroke()
    edit = doc.undo_stack.undo_list[-1]
    assert edit.rect == (5, 10, 15, 20)
    assert edit.nbytes == 2 * 10 * 10
    assert doc.dirty
    assert doc.undo()
    assert not doc.mask.any()
    assert doc.redo()
    assert doc.mask[10:20, 5:15].all() and doc.mask.sum() == 100 * 255


def test_empty_stroke_is_not_an_edit() -> None:
    doc = Document(_noise())
    doc.begin_stroke()
    doc.end_stroke()
    assert len(doc.undo_stack) == 0


def test_mask_ops_undo_redo() -> None:
    doc = Document(_noise())
    doc.fill_mask()
    assert (doc.mask == 255).all()
    doc.set_mask_region((0, 0, 10, 10), np.zeros((10, 10), np.uint8), "Rect")
    doc.invert_mask()
    assert doc.mask.sum() == 100 * 255
    doc.clear_mask()
    assert not doc.mask.any()
    for expected in (100 * 255, (64 * 48 - 100) * 255, 64 * 48 * 255, 0):
        doc.undo()
        assert doc.mask.astype(int).sum() == expected
    for _ in range(4):
        doc.redo()
    assert not doc.mask.any()


def test_apply_image_adds_a_result_layer_of_the_changed_pixels_exactly() -> None:
    """Since layers (issue 12): an accepted result is a layer on top holding only the changed pixels."""
    original = _noise()
    doc = Document(original.copy())
    result = original.copy()
    result[5:9, 20:30] = 7
    rect = doc.apply_image(result)
    assert rect == (20, 5, 30, 9)
    assert np.array_equal(doc.image, result)
    assert doc.layers[-1].bounds == rect and len(doc.layers) == 3
    doc.undo()
    assert np.array_equal(doc.image, original) and len(doc.layers) == 2
    doc.redo()
    assert np.array_equal(doc.image, result)
    assert doc.apply_image(result) is None  # nothing changed, no edit
    with pytest.raises(ValueError, match="canvas is 64x48"):
        doc.apply_image(np.zeros((10, 10, 3), np.uint8))


def test_extend_keeps_original_pixels_and_mask_and_undoes() -> None:
    original = _noise()
    doc = Document(original.copy())
    doc.mask[0:5, 0:5] = 255
    doc.extend(8, 16, 24, 0)
    assert doc.size == (64 + 32, 48 + 16)
    assert np.array_equal(doc.image[16:, 8:72], original)
    assert (doc.image[:16] == 255).all()
    assert doc.mask[16:21, 8:13].all() and doc.mask.sum() == 25 * 255
    doc.undo()
    assert doc.size == (64, 48) and np.array_equal(doc.image, original)
    doc.redo()
    assert doc.size == (96, 64)


def test_extend_with_result_uses_it_as_is() -> None:
    doc = Document(_noise())
    result = _noise(64 + 8, 48, seed=3)
    doc.extend(0, 0, 8, 0, image=result, label="Outpaint")
    assert np.array_equal(doc.image, result)
    with pytest.raises(ValueError, match="expected"):
        doc.extend(1, 0, 0, 0, image=result)


def test_undo_budget_drops_oldest() -> None:
    doc = Document(_noise(100, 100), max_undo_bytes=3 * 2 * 100 * 100)
    for i in range(5):
        doc.set_mask(np.full((100, 100), i + 1, np.uint8), f"op {i}")
    assert len(doc.undo_stack) == 3
    assert doc.undo_stack.nbytes <= 3 * 2 * 100 * 100
    while doc.undo():
        pass
    assert (doc.mask == 2).all()  # the two oldest edits were dropped


def test_redo_cleared_by_new_edit() -> None:
    doc = Document(_noise())
    doc.fill_mask()
    doc.undo()
    assert doc.undo_stack.can_redo()
    doc.invert_mask()
    assert not doc.undo_stack.can_redo()


def test_listeners_get_rects() -> None:
    doc = Document(_noise())
    seen: list = []
    doc.add_listener(seen.append)
    doc.set_mask_region((1, 2, 3, 4), np.full((2, 2), 255, np.uint8), "x")
    doc.extend(1, 1, 1, 1)
    doc.remove_listener(seen.append)
    doc.undo()
    assert seen == [(1, 2, 3, 4), None]


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_save_open_roundtrip_lossless(tmp_path, suffix: str) -> None:
    doc = Document(_noise())
    doc.fill_mask()
    path = doc.save_image(tmp_path / f"a{suffix}")
    assert not doc.dirty
    again = Document.open(path)
    assert np.array_equal(again.image, doc.image)
    assert again.path == path


def test_open_flattens_alpha_and_jpeg(tmp_path) -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.save(tmp_path / "t.png")
    assert (Document.open(tmp_path / "t.png").image == 255).all()  # transparent -> white
    Image.fromarray(_noise()).save(tmp_path / "n.jpg")
    assert Document.open(tmp_path / "n.jpg").size == (64, 48)


def test_mask_save_load(tmp_path) -> None:
    doc = Document(_noise())
    doc.mask[3:7, 3:7] = 200
    doc.save_mask(tmp_path / "m.png")
    other = Document(_noise())
    other.load_mask(tmp_path / "m.png")
    assert np.array_equal(other.mask, doc.mask)
    other.undo()
    assert not other.mask.any()
    Image.new("L", (5, 5)).save(tmp_path / "small.png")
    with pytest.raises(ValueError, match="5x5"):
        other.load_mask(tmp_path / "small.png")


def test_open_applies_exif_orientation(tmp_path) -> None:
    img = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "photo.jpg", exif=exif)
    assert Document.open(tmp_path / "photo.jpg").size == (20, 40)
