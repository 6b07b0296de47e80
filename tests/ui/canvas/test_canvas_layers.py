"""Layers and colour paint through the real canvas widgets: the Layers panel, the colour brush (mouse
and pen pressure), the eyedropper, Ctrl+V as a layer, .ora save/open, flattened export with metadata,
and the 'sketch then refine' round trip (painted colour goes into the inpaint request; the accepted
result becomes a layer)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPointingDevice, QTabletEvent
from PySide6.QtWidgets import QApplication

from studio.core.layers import LayerKind
from studio.core.metadata import build_parameters, read_png_metadata
from studio.ui.canvas.tools import Tool

RED = (255, 0, 0)


def _at(view, x: float, y: float) -> QPoint:
    return view.doc_to_widget(x, y).toPoint()


def _drag(qtbot, view, points, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifier, _at(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, _at(view, *p))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, _at(view, *points[-1]))


@pytest.fixture
def view(workspace):
    v = workspace.view
    v.scale, v.offset = 2.0, QPointF(10, 10)
    v.tools.settings.size = 10
    v.tools.settings.hardness = 1.0
    return v


def _colour_stroke(workspace, view, qtbot, colour=RED, points=((20, 20), (40, 20), (60, 20))) -> None:
    qtbot.keyClick(view, Qt.Key.Key_P)
    assert view.tools.tool is Tool.PAINT and workspace.actions_["tool_paint"].isChecked()
    workspace.colour_box.set_colour(colour)
    _drag(qtbot, view, list(points))


def _rendered(view) -> np.ndarray:
    """What the view shows (RGB), grabbed from the widget."""
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)
    return arr[:, : w * 3].reshape(h, w, 3).copy()  # before the QImage goes


def test_colour_brush_paints_the_active_layer_and_undoes(workspace, view, qtbot) -> None:
    doc = workspace.doc
    original = doc.image.copy()
    _colour_stroke(workspace, view, qtbot)
    paint = doc.layers[1]
    assert doc.active_layer is paint and (doc.image[18:23, 20:61] == RED).all()
    assert not doc.mask.any() and np.array_equal(doc.layers[0].pixels[..., :3], original[..., ::-1])
    assert np.array_equal(doc.image[30:], original[30:])  # nothing painted away from the stroke
    shown = _rendered(view)
    x, y = _at(view, 40, 20).x(), _at(view, 40, 20).y()
    assert tuple(shown[y, x]) == RED  # drawn straight from the layer's array
    assert len(doc.undo_stack) == 1 and workspace.actions_["undo"].text() == "Undo Paint on Paint 1"
    workspace.actions_["undo"].trigger()
    assert np.array_equal(doc.image, original) and not paint.pixels.any()
    _drag(qtbot, view, [(20, 20), (60, 20)], modifier=Qt.KeyboardModifier.AltModifier)  # Alt: erase
    assert not paint.pixels.any()


def test_opacity_never_builds_up_within_a_stroke(workspace, view, qtbot) -> None:
    view.tools.settings.opacity = 0.5
    workspace.colour_box.opacity.setValue(50)
    _colour_stroke(workspace, view, qtbot, points=((20, 20), (22, 20), (24, 20), (22, 20), (20, 20)))
    alpha = workspace.doc.layers[1].pixels[20, 18:27, 3]
    assert set(alpha.tolist()) == {128}  # overlapping segments: still half, not 3/4


def test_pen_pressure_sets_size_and_opacity(workspace, view) -> None:
    device = QPointingDevice.primaryPointingDevice()
    view.set_tool(Tool.PAINT)
    workspace.colour_box.set_colour((0, 0, 255))
    workspace.colour_box.pressure.setChecked(True)
    view.tools.settings.size = 20

    def pen(kind, x, pressure, buttons=Qt.MouseButton.LeftButton) -> None:
        pos = view.doc_to_widget(x, 30)
        event = QTabletEvent(
            kind, device, pos, view.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
            Qt.KeyboardModifier.NoModifier, Qt.MouseButton.LeftButton, buttons,
        )  # fmt: skip
        QApplication.sendEvent(view, event)

    pen(QTabletEvent.Type.TabletPress, 10, 0.2)
    for x in range(12, 81, 2):
        pen(QTabletEvent.Type.TabletMove, x, 0.2 + 0.8 * (x - 10) / 70)
    pen(QTabletEvent.Type.TabletRelease, 80, 1.0, Qt.MouseButton.NoButton)
    alpha = workspace.doc.layers[1].pixels[..., 3]
    light, heavy = int(alpha[30, 14]), int(alpha[30, 78])
    assert 40 <= light <= 90 and heavy >= 240  # opacity follows the pressure
    assert (alpha[:, 14] > 0).sum() < (alpha[:, 78] > 0).sum()  # and so does the size
    assert len(workspace.doc.undo_stack) == 1


def test_eyedropper_picks_the_flattened_colour(workspace, view, qtbot) -> None:
    _colour_stroke(workspace, view, qtbot, colour=(10, 200, 30))
    workspace.colour_box.set_colour((0, 0, 0))
    qtbot.keyClick(view, Qt.Key.Key_I)
    assert view.tools.tool is Tool.PICKER
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=_at(view, 40.5, 20.5))
    assert view.tools.settings.colour == (10, 200, 30)
    assert workspace.colour_box.swatch.text() == "#0ac81e"
    assert len(workspace.doc.undo_stack) == 1  # picking is not an edit


def test_layers_panel_drives_every_layer_operation(workspace, view, qtbot) -> None:
    doc, panel = workspace.doc, workspace.layers_panel
    _colour_stroke(workspace, view, qtbot)
    assert [panel.list.item(i).text() for i in range(panel.list.count())] == ["✎ Paint 1", "▣ Image"]
    panel.buttons["add"].click()
    assert [x.name for x in doc.layers] == ["Image", "Paint 1", "Paint 2"] and panel.list.currentRow() == 0
    panel.list.setCurrentRow(1)  # select "Paint 1"
    assert doc.active_layer.name == "Paint 1"
    panel.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert not doc.layers[1].visible and (doc.image[20, 40] != RED).any()
    panel.list.item(1).setCheckState(Qt.CheckState.Checked)
    panel.opacity.setValue(70)
    panel.opacity.setValue(40)
    panel.opacity.sliderReleased.emit()
    assert doc.layers[1].opacity == 0.4 and doc.undo_stack.undo_label() == "Opacity of Paint 1"
    panel.list.item(1).setText("My sketch")  # the mark typed away: the name is still the text
    assert doc.layers[1].name == "My sketch"
    panel.list.item(1).setText("✎ Sketch")
    assert doc.layers[1].name == "Sketch"
    panel.buttons["up"].click()
    assert [x.name for x in doc.layers] == [
        "Image",
        "Paint 2",
        "Sketch",
    ] and doc.active_layer.name == "Sketch"
    panel.buttons["merge"].click()
    assert [x.name for x in doc.layers] == ["Image", "Paint 2"]
    panel.buttons["flatten"].click()
    assert len(doc.layers) == 1 and not panel.buttons["delete"].isEnabled()
    steps = [
        "Flatten",
        "Merge Sketch down",
        "Move layer Sketch",
        "Rename layer to Sketch",
        "Rename layer to My sketch",
        "Opacity of Paint 1",
    ]
    for label in steps:
        assert doc.undo_stack.undo_label() == label
        workspace.actions_["undo"].trigger()
    assert [x.name for x in doc.layers] == ["Image", "Paint 1", "Paint 2"] and doc.layers[1].opacity == 1.0
    assert panel.list.count() == 3


def test_ctrl_v_pastes_a_layer(workspace, view, qtbot) -> None:
    img = QImage(8, 6, QImage.Format.Format_ARGB32)
    img.fill(0x8000FF00)  # half-transparent green
    QGuiApplication.clipboard().setImage(img)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    doc = workspace.doc
    assert doc.size == (96, 64) and doc.active_layer.name == "Pasted 1"
    assert doc.active_layer.bounds == (44, 29, 52, 35) and doc.active_layer.kind is LayerKind.IMAGE
    assert doc.active_layer.rgba()[30, 45].tolist() == [0, 255, 0, 128]
    assert "Pasted as the layer Pasted 1" in workspace.status.text()


def test_ora_save_open_round_trip_through_the_workspace(workspace, view, qtbot, tmp_path) -> None:
    _colour_stroke(workspace, view, qtbot)
    workspace.layers_panel.opacity.setValue(60)
    doc = workspace.doc
    assert not workspace.save_image(tmp_path / "flat.png")  # a PNG cannot hold the layers: exported
    assert (
        (tmp_path / "flat.png").exists() and doc.dirty and "kept only in an .ora" in workspace.status.text()
    )
    assert workspace.save_image(tmp_path / "work.ora") and not doc.dirty
    layers = [(x.name, x.opacity, x.pixels.copy()) for x in doc.layers]
    assert workspace.new_canvas((32, 32))
    assert workspace.open_file(tmp_path / "work.ora")
    again = workspace.doc
    assert [(x.name, x.opacity) for x in again.layers] == [(n, o) for n, o, _ in layers]
    assert all(np.array_equal(x.pixels, p) for x, (_, _, p) in zip(again.layers, layers, strict=True))
    assert workspace.title() == "work.ora" and workspace.layers_panel.list.count() == 2
    (tmp_path / "broken.ora").write_bytes(b"PK\x03\x04 not really")
    assert not workspace.open_file(tmp_path / "broken.ora")
    assert workspace.doc is again and "broken.ora" in workspace.status.text()  # nothing lost


def test_sketch_then_refine_inpaint_and_export_with_metadata(
    workspace, view, qtbot, submits, tmp_path
) -> None:
    """Paint colour, mask it, inpaint: the request's init image carries the paint; the accepted result
    becomes a layer; the flattened PNG export carries the result's generation parameters."""
    doc = workspace.doc
    _colour_stroke(workspace, view, qtbot)
    doc.set_mask_region((10, 10, 70, 30), np.full((20, 60), 255, np.uint8), "Mask")
    workspace.inpaint()
    request = submits.requests[-1]
    init = np.asarray(request.init_image)
    assert (init[18:23, 20:61] == RED).all()  # the painted colour guides the inpaint
    result = init.copy()
    result[12:28, 12:68] = (200, 40, 40)  # a "refined" red
    the_plan = submits.start()
    job = submits.jobs[-1]
    params = build_parameters(job.request, 5, "tiny", "abc123")
    from studio.core.events import Finished

    region = the_plan.region
    crop = (
        Image.fromarray(result).crop(region) if the_plan.result_size != doc.size else Image.fromarray(result)
    )
    crop = crop.resize(the_plan.result_size)
    submits.send(Finished(job.id, [crop], job.request.seeds(), job.request, 1.0, [params]))
    assert workspace.accept_candidate()
    assert doc.layers[-1].kind is LayerKind.RESULT and doc.active_layer is doc.layers[-1]
    assert len(doc.layers) == 3 and doc.layers[1].name == "Paint 1"  # the sketch stays under it
    assert workspace.export_image(tmp_path / "final.png")
    meta = read_png_metadata(tmp_path / "final.png")
    assert meta is not None and meta.settings["Seed"] == "5" and meta.settings["Model"] == "tiny"
    with Image.open(tmp_path / "final.png") as png:
        assert np.array_equal(np.asarray(png.convert("RGB")), doc.image)
    workspace.actions_["undo"].trigger()
    assert len(doc.layers) == 2 and (doc.image[18:23, 20:61] == RED).all()


def test_painting_a_hidden_layer_says_why_nothing_happens(workspace, view, qtbot) -> None:
    workspace.doc.set_layer_visible(1, False)
    steps = len(workspace.doc.undo_stack)
    _colour_stroke(workspace, view, qtbot)
    assert not workspace.doc.layers[1].pixels.any() and len(workspace.doc.undo_stack) == steps
    assert "Paint 1 is hidden" in workspace.status.text()


def test_layer_keys_are_listed_in_the_shortcuts(workspace) -> None:
    rows = dict((action, keys) for keys, action in workspace.shortcuts())
    assert rows["Paste as layer"] == "Ctrl+V" and rows["Export flattened image…"] == "Ctrl+Shift+E"
    assert rows["Colour brush tool"] == "P" and rows["Eyedropper tool"] == "I"
    assert rows["Undo"] == "Ctrl+Z"


def test_the_view_shows_the_flattened_image(workspace, view, qtbot) -> None:
    """What the view draws from the layers is `Document.image` (within rounding), through changes."""
    doc = workspace.doc
    view.mask_visible = False
    view.scale, view.offset = 1.0, QPointF(5, 7)
    _colour_stroke(workspace, view, qtbot, colour=(0, 90, 250))
    doc.set_layer_opacity(1, 0.55)
    glaze = doc.add_layer("Glaze")
    doc.begin_stroke(glaze)
    doc.stroke_backup((30, 10, 80, 50))
    glaze.pixels[10:50, 30:80] = (0, 100, 50, 140)  # premultiplied: a translucent green-yellow
    doc.stroke_touched((30, 10, 80, 50))
    doc.end_stroke()
    QApplication.sendEvent(view, QEvent(QEvent.Type.Leave))  # no brush outline in the picture
    for change in (lambda: None, lambda: doc.set_layer_visible(0, False), lambda: doc.move_layer(2, 0)):
        change()
        shown = _rendered(view)[7 : 7 + 64, 5 : 5 + 96].astype(int)
        assert np.abs(shown - doc.image).max() <= 2
