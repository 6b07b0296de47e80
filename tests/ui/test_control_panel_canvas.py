"""The canvas's Controls panel (issue 14): its layers (hidden ones too) and the flattened canvas are
control sources, read when the job is submitted; the layer list follows the document; a layer that
went away or a unit without a model gets a clear message and the unit stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.core.control import ControlKind
from studio.core.document import Document
from studio.core.layers import Layer
from studio.ui.widgets.control_sources import FLATTENED
from tests.ui.canvas.conftest import Submits, noise_image

MODEL = "/models/control_v11p_sd15_scribble.safetensors"


@pytest.fixture
def submits() -> Submits:
    return Submits()


@pytest.fixture
def workspace(qtbot: Any, submits: Submits, tmp_path: Path) -> Any:
    from studio.ui.canvas import CanvasWorkspace

    doc = Document(noise_image(96, 64))
    ws = CanvasWorkspace(
        submits.submit,
        submits.provider,
        tmp_path / "autosave",
        document=doc,
        unsaved_choice=lambda p: "discard",
    )
    qtbot.addWidget(ws)
    ws.resize(1000, 700)
    ws.show()
    qtbot.waitExposed(ws)
    ws.control_panel.set_models([Path(MODEL)])
    ws.doc.set_mask_region((30, 20, 60, 44), np.full((24, 30), 255, np.uint8), "mask")
    ws.messages = []
    ws.message.connect(ws.messages.append)
    return ws


def _paint(doc: Document, layer: Layer, rect: tuple[int, int, int, int], rgb: tuple[int, int, int]) -> None:
    """A stroke on `layer` as the colour brush makes one (opaque, premultiplied BGRA)."""
    x0, y0, x1, y1 = rect
    doc.begin_stroke(layer)
    doc.stroke_backup(rect)
    layer.pixels[y0:y1, x0:x1] = (rgb[2], rgb[1], rgb[0], 255)
    doc.stroke_touched(rect)
    doc.end_stroke()


def _layer(doc: Document, name: str) -> Layer:
    return next(layer for layer in doc.layers if layer.name == name)


def _sources(editor: Any) -> list[str]:
    return [editor.source.itemText(i) for i in range(editor.source.count())]


def _finish_and_discard(ws: Any, submits: Submits) -> None:
    plan = submits.start()
    submits.finish([Image.new("RGB", plan.result_size, (9, 9, 9))])
    ws.generation.discard()


def test_a_layer_as_control_gives_its_pixels_when_the_job_is_submitted(
    workspace: Any, submits: Submits
) -> None:
    ws = workspace
    paint = ws.doc.layers[-1]  # the empty paint layer above the picture
    _paint(ws.doc, paint, (10, 10, 40, 14), (0, 0, 0))
    editor = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    assert _sources(editor)[:3] == [f"Layer: {paint.name}", "Layer: Image", "Canvas (flattened)"]
    assert editor.source.currentText() == f"Layer: {paint.name}"  # the top layer
    assert editor.model.currentData() == MODEL
    editor.preprocessor.setCurrentIndex(editor.preprocessor.findData("scribble"))
    assert not editor.thumbnail.pixmap().isNull()
    ws.doc.set_layer_visible(ws.doc.index_of(paint), False)  # hidden: not painted into the picture
    assert ws.inpaint() is not None, ws.messages
    (unit,) = submits.requests[-1].controls
    assert unit.image_name == paint.name and unit.preprocessor == "scribble"
    assert np.array_equal(np.asarray(unit.image), paint.rgba())
    assert np.asarray(unit.image)[12, 20, 3] == 255 and np.asarray(unit.image)[30, 80, 3] == 0
    _finish_and_discard(ws, submits)
    _paint(ws.doc, paint, (10, 50, 40, 54), (0, 0, 0))  # painted after the first job
    assert ws.inpaint() is not None, ws.messages
    (unit,) = submits.requests[-1].controls
    assert np.asarray(unit.image)[52, 20, 3] == 255  # read anew at submit time


def test_the_flattened_canvas_as_control(workspace: Any, submits: Submits) -> None:
    ws = workspace
    editor = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    index = editor.source.findData(FLATTENED)
    editor.source.setCurrentIndex(index)
    editor.source.activated.emit(index)
    editor.preprocessor.setCurrentIndex(editor.preprocessor.findData("canny"))
    assert ws.inpaint() is not None, ws.messages
    (unit,) = submits.requests[-1].controls
    assert np.array_equal(np.asarray(unit.image), ws.doc.image)


def test_the_layer_list_follows_the_document(workspace: Any) -> None:
    ws = workspace
    editor = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    index = editor.source.findData("Image")
    editor.source.setCurrentIndex(index)
    editor.source.activated.emit(index)
    ws.doc.add_layer("Lines")
    assert "Layer: Lines" in _sources(editor)
    ws.doc.rename_layer(ws.doc.index_of(_layer(ws.doc, "Lines")), "Ink")
    assert "Layer: Ink" in _sources(editor) and "Layer: Lines" not in _sources(editor)
    assert editor.source.currentText() == "Layer: Image"  # the choice is kept


def test_a_deleted_layer_or_a_missing_model_gets_a_message_and_the_unit_stays(
    workspace: Any, submits: Submits
) -> None:
    ws = workspace
    ws.doc.add_layer("Scribble")
    editor = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    assert editor.source.currentData() == "Scribble"
    ws.doc.delete_layer(ws.doc.index_of(_layer(ws.doc, "Scribble")))
    assert ws.inpaint() is None
    assert ws.messages[-1] == (
        "Control 1 (ControlNet): its image could not be read (the canvas has no layer named 'Scribble' "
        "any more). Choose a layer or an image file for it."
    )
    assert submits.requests == []
    assert editor.source.currentText() == "Layer: Scribble (not on the canvas)"  # kept, and said so
    ip = ws.control_panel.add_unit(ControlKind.IP_ADAPTER)  # no IP-Adapter model found
    editor.enabled.setChecked(False)
    index = ip.source.findData(FLATTENED)
    ip.source.setCurrentIndex(index)
    ip.source.activated.emit(index)
    assert ws.inpaint() is None
    assert ws.messages[-1] == "Control 1 (IP-Adapter) has no model: choose its file or folder."
    assert len(ws.control_panel.editors) == 2 and submits.requests == []


def test_a_layer_as_an_ip_adapter_region(workspace: Any, submits: Submits) -> None:
    ws = workspace
    region = ws.doc.add_layer("Region")
    _paint(ws.doc, region, (0, 0, 48, 64), (255, 0, 0))  # the left half, in any colour
    ws.doc.set_layer_visible(ws.doc.index_of(region), False)
    cn = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    assert not cn.form.isRowVisible(cn.region)  # a region is for IP-Adapters
    cn.enabled.setChecked(False)
    ip = ws.control_panel.add_unit(ControlKind.IP_ADAPTER)
    ip.model.setCurrentIndex(ip.model.findData(MODEL))  # any model: the fake engine only checks
    for combo, data in ((ip.source, FLATTENED), (ip.region, "Region")):
        combo.setCurrentIndex(combo.findData(data))
        combo.activated.emit(combo.findData(data))
    assert ip.region.currentText() == "Layer: Region"
    assert ws.inpaint() is not None, ws.messages
    (unit,) = submits.requests[-1].controls
    assert unit.mask_name == "Region" and unit.mask.mode == "L" and unit.mask.size == (96, 64)
    mask = np.asarray(unit.mask)
    assert (mask[:, :48] == 255).all() and (mask[:, 48:] == 0).all()
