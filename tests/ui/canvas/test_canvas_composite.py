"""The view's cached composites (layers below and above the active one, the active layer at the
view's scale when zoomed out) never show stale pixels: after any change, a view that has drawn all
along shows what a view drawing the document for the first time shows, and at 100 % that is
`Document.image`."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

from studio.core.document import Document
from studio.core.layers import Layer
from studio.ui.canvas import composite
from studio.ui.canvas.composite import cache_scale, caches_fit
from studio.ui.canvas.view import CanvasView

W, H = 160, 120


def _document() -> Document:
    rng = np.random.default_rng(7)
    doc = Document(rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    for i, (colour, box) in enumerate(
        (((0, 90, 200, 200), (10, 10, 90, 70)), ((120, 20, 0, 160), (50, 40, 150, 110)))
    ):
        layer = Layer.empty(f"Paint {i}", W, H)
        layer.pixels[box[1] : box[3], box[0] : box[2]] = colour  # premultiplied, translucent
        layer.touched(box)
        doc.add_layer(layer=layer)
    doc.set_active(1)
    return doc


def _view(qtbot, doc: Document, scale: float) -> CanvasView:
    view = CanvasView(doc)
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    view.mask_visible = False
    view.scale, view.offset = scale, QPointF(6, 9)
    return view


def _shown(view: CanvasView, scale: float) -> np.ndarray:
    view.repaint()
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * img.height())
    arr = arr.reshape(img.height(), -1)[:, : img.width() * 3].reshape(img.height(), img.width(), 3)
    return arr[9 : 9 + int(H * scale) - 1, 6 : 6 + int(W * scale) - 1].astype(int)


def _stroke(doc: Document, layer: Layer, box: tuple[int, int, int, int], colour) -> None:
    doc.begin_stroke(layer)
    doc.stroke_backup(box)
    layer.pixels[box[1] : box[3], box[0] : box[2]] = colour
    doc.stroke_touched(box)
    doc.end_stroke()


CHANGES = {
    "hide the active layer": lambda d: d.set_layer_visible(1, False),
    "opacity of the active layer": lambda d: d.set_layer_opacity(1, 0.3),
    "hide a layer below": lambda d: d.set_layer_visible(0, False),
    "opacity of a layer above": lambda d: d.set_layer_opacity(2, 0.4),
    "hide it": lambda d: d.set_layer_visible(2, False),
    "opacity of the hidden layer": lambda d: d.set_layer_opacity(2, 0.8),
    "show it again": lambda d: d.set_layer_visible(2, True),
    "paint a layer above": lambda d: _stroke(d, d.layers[2], (100, 10, 140, 40), (0, 0, 90, 90)),
    "undo that": lambda d: d.undo(),
    "paint the active layer": lambda d: _stroke(d, d.layers[1], (20, 60, 70, 100), (90, 0, 0, 90)),
    "another active layer": lambda d: d.set_active(2),
    "move the active layer down": lambda d: d.move_layer(2, 0),
    "delete a layer": lambda d: d.delete_layer(1),
    "redo nothing, undo the delete": lambda d: d.undo(),
}


@pytest.mark.parametrize(("scale", "mips"), [(1.0, True), (0.5, True), (0.5, False), (2.0, True)])
def test_cached_composites_follow_every_change(qtbot, monkeypatch, scale: float, mips: bool) -> None:
    if not mips:  # zoomed out, but the layers' own caches over the budget: composites from the layers
        monkeypatch.setattr(composite, "MIP_BUDGET_PIXELS", 0)
    doc = _document()
    view = _view(qtbot, doc, scale)
    _shown(view, scale)  # the caches are built
    for name, change in CHANGES.items():
        change(doc)
        shown = _shown(view, scale)
        fresh = _shown(_view(qtbot, doc, scale), scale)
        assert np.abs(shown - fresh).max() <= 2, name
        if scale == 1.0:
            assert np.abs(shown - doc.image[: shown.shape[0], : shown.shape[1]]).max() <= 2, name


def test_caches_follow_the_zoom_within_a_memory_bound() -> None:
    assert cache_scale(0.25) == 0.25 and cache_scale(1.0) == 1.0 and cache_scale(3.0) == 1.0
    assert caches_fit((4096, 4096), 1.0) and caches_fit((8192, 8192), 0.5)
    assert not caches_fit((8192, 8192), 0.75)  # drawn layer by layer instead


def test_a_document_too_big_for_caches_is_drawn_layer_by_layer(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(composite, "MAX_CACHE_PIXELS", 100)
    doc = _document()
    view = _view(qtbot, doc, 1.0)
    shown = _shown(view, 1.0)
    assert view.composite.scale == 0.0  # no cache was made
    assert np.abs(shown - doc.image[: shown.shape[0], : shown.shape[1]]).max() <= 2
