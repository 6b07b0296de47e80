"""The canvas view: strokes through mouse/keys, shortcuts, zoom and pan, undo of each kind of edit."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.ui.canvas.tools import Tool


def _at(view, x: float, y: float) -> QPoint:
    return view.doc_to_widget(x, y).toPoint()


def _drag(qtbot, view, points, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(view, button, modifier, _at(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, _at(view, *p))
    qtbot.mouseRelease(view, button, modifier, _at(view, *points[-1]))


@pytest.fixture
def view(workspace):
    v = workspace.view
    v.scale, v.offset = 2.0, QPointF(10, 10)
    v.tools.settings.size = 10
    v.tools.settings.hardness = 1.0
    return v


def test_brush_stroke_changes_mask_along_path_only(workspace, view, qtbot) -> None:
    _drag(qtbot, view, [(20, 20), (40, 20), (60, 20)])
    mask = workspace.doc.mask
    assert (mask[18:23, 20:61] == 255).all()
    ys, xs = np.nonzero(mask)
    assert ys.min() >= 14 and ys.max() <= 26 and xs.min() >= 14 and xs.max() <= 66
    assert len(workspace.doc.undo_stack) == 1  # one stroke, one edit
    assert workspace.actions_["undo"].isEnabled() and workspace.actions_["undo"].text() == "Undo Brush stroke"


def test_eraser_key_and_stroke(workspace, view, qtbot) -> None:
    workspace.doc.fill_mask()
    qtbot.keyClick(view, Qt.Key.Key_E)
    assert view.tools.tool is Tool.ERASER
    assert workspace.actions_["tool_eraser"].isChecked()
    _drag(qtbot, view, [(30, 30), (30, 50)])
    mask = workspace.doc.mask
    assert not mask[30:51, 28:33].any()
    assert (mask[:, :20] == 255).all() and (mask[:, 40:] == 255).all()
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.tools.tool is Tool.BRUSH


def test_alt_flips_brush_to_eraser(workspace, view, qtbot) -> None:
    workspace.doc.fill_mask()
    _drag(qtbot, view, [(30, 30), (31, 30)], modifier=Qt.KeyboardModifier.AltModifier)
    assert workspace.doc.mask[30, 30] == 0


def test_size_shortcuts(workspace, view, qtbot) -> None:
    spin_values = []
    view.brush_size_changed.connect(spin_values.append)
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert view.tools.settings.size == 12
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert view.tools.settings.size == 8
    assert spin_values == [12, 10, 8]
    for _ in range(30):
        qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert view.tools.settings.size == 1


def test_rect_and_lasso_fill(workspace, view, qtbot) -> None:
    qtbot.keyClick(view, Qt.Key.Key_R)
    _drag(qtbot, view, [(10, 10), (20, 15), (30, 25)])
    mask = workspace.doc.mask
    assert (mask[10:25, 10:30] == 255).all() and mask.sum() == 15 * 20 * 255
    qtbot.keyClick(view, Qt.Key.Key_L)
    _drag(qtbot, view, [(50, 5), (80, 5), (80, 35), (50, 35)])
    assert (mask[8:33, 53:78] == 255).all()
    assert not mask[40:, :].any()


def test_zoom_keeps_point_under_cursor(workspace, view) -> None:
    cursor = QPointF(123, 77)
    before = view.widget_to_doc(cursor)
    for delta in (120, 240, -120):
        event = QWheelEvent(
            cursor,
            view.mapToGlobal(cursor),
            QPoint(),
            QPoint(0, delta),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(view, event)
        assert view.widget_to_doc(cursor) == pytest.approx(before)
    assert view.scale == pytest.approx(2.0 * 1.25**2)


def test_fit_and_actual_size(workspace, view) -> None:
    workspace.actions_["actual"].trigger()
    assert view.scale == 1.0
    workspace.actions_["fit"].trigger()
    w, h = workspace.doc.size
    assert w * view.scale <= view.width() and h * view.scale <= view.height()
    centre = view.doc_to_widget(w / 2, h / 2)
    assert centre.x() == pytest.approx(view.width() / 2) and centre.y() == pytest.approx(view.height() / 2)


def test_middle_and_space_drag_pan_without_painting(workspace, view, qtbot) -> None:
    start = QPointF(view.offset)
    _drag(qtbot, view, [(20, 20), (30, 25)], button=Qt.MouseButton.MiddleButton)
    assert view.offset - start == QPointF(20, 10)
    qtbot.keyPress(view, Qt.Key.Key_Space)
    _drag(qtbot, view, [(20, 20), (25, 20)])
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.offset - start == QPointF(30, 10)
    assert not workspace.doc.mask.any()


def test_undo_redo_of_strokes_mask_ops_and_resize(workspace, view, qtbot) -> None:
    doc = workspace.doc
    original = doc.image.copy()
    _drag(qtbot, view, [(20, 20), (40, 20)])
    after_stroke = doc.mask.copy()
    workspace.actions_["invert"].trigger()
    doc.extend(8, 0, 0, 8)
    workspace.actions_["undo"].trigger()
    assert doc.size == (96, 64) and np.array_equal(doc.image, original)
    assert view.layer_images.size == (96, 64)
    workspace.actions_["undo"].trigger()
    assert np.array_equal(doc.mask, after_stroke)
    workspace.actions_["undo"].trigger()
    assert not doc.mask.any()
    assert not workspace.actions_["undo"].isEnabled()
    for _ in range(3):
        workspace.actions_["redo"].trigger()
    assert doc.size == (104, 72)


def test_undo_shortcuts(workspace, view, qtbot) -> None:
    workspace.activateWindow()
    qtbot.waitActive(workspace)
    view.setFocus()
    workspace.doc.fill_mask()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not workspace.doc.mask.any()
    qtbot.keyClick(
        view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert workspace.doc.mask.all()


def test_overlay_layer_follows_mask_rect(workspace, view, qtbot) -> None:
    _drag(qtbot, view, [(20, 20), (21, 20)])
    assert view.mask_layer.buffer[20, 20] == 0  # copied into the layer at paint time, once per frame
    view.repaint()
    buf = view.mask_layer.buffer
    assert buf[20, 20] != 0 and buf[50, 80] == 0
    workspace.actions_["effective"].setChecked(True)
    assert view._mask_override is not None
    workspace.actions_["effective"].setChecked(False)
    assert view._mask_override is None


def test_tablet_pressure_scales_size(workspace, view) -> None:
    assert view.tools.settings.radius(0.5) == pytest.approx(2.5)
    view.tools.settings.pressure_size = False
    assert view.tools.settings.radius(0.5) == pytest.approx(5)


def test_many_void_qt_calls_do_not_exhaust_none(workspace) -> None:
    """PySide6 6.12 on Python 3.11 drops a reference to None per void call; the view guards it."""
    for _ in range(20000):
        workspace.view.update()


def test_tool_actions_are_exclusive_and_follow_keys(workspace, view, qtbot) -> None:
    actions = workspace.actions_
    actions["tool_lasso"].trigger()
    assert view.tools.tool is Tool.LASSO
    assert [n for n in ("brush", "eraser", "rect", "lasso", "frame") if actions[f"tool_{n}"].isChecked()] == [
        "lasso"
    ]
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.tools.tool is Tool.BRUSH and actions["tool_brush"].isChecked()
    assert not actions["tool_lasso"].isChecked()


def test_canvas_shortcuts_win_over_window_shortcuts(make_workspace, submits, qtbot) -> None:
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QMainWindow

    window = QMainWindow()
    qtbot.addWidget(window)
    fired = []
    generate = QAction("Generate", window)
    generate.setShortcut(QKeySequence("Ctrl+Return"))
    generate.triggered.connect(lambda: fired.append("window"))
    window.addAction(generate)
    ws = make_workspace()
    window.setCentralWidget(ws)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    ws.doc.set_mask_region((0, 0, 8, 8), np.full((8, 8), 255, np.uint8), "m")
    ws.view.setFocus()
    qtbot.keyClick(ws.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(submits.requests) == 1 and not fired  # the canvas inpainted; the window did not generate
    ws.gen_panel.strength.spin.setFocus()
    qtbot.keyClick(ws.gen_panel.strength.spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    ws.view.setFocus()
    qtbot.keyClick(ws.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not ws.doc.mask.any()
    window.takeCentralWidget()  # the workspace fixture owns it


def test_tablet_pen_pressure_paints_thin_and_thick(workspace, view) -> None:
    from PySide6.QtGui import QPointingDevice, QTabletEvent

    device = QPointingDevice.primaryPointingDevice()

    def pen(kind, x, y, pressure, buttons=Qt.MouseButton.LeftButton):
        pos = view.doc_to_widget(x, y)
        event = QTabletEvent(
            kind,
            device,
            pos,
            view.mapToGlobal(pos),
            pressure,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            Qt.KeyboardModifier.NoModifier,
            Qt.MouseButton.LeftButton,
            buttons,
        )
        QApplication.sendEvent(view, event)
        assert event.isAccepted()

    view.tools.settings.size = 20
    pen(QTabletEvent.Type.TabletPress, 10, 30, 0.1)
    for x in range(12, 81, 2):
        pen(QTabletEvent.Type.TabletMove, x, 30, 0.1 + 0.9 * (x - 10) / 70)
    pen(QTabletEvent.Type.TabletRelease, 80, 30, 1.0, Qt.MouseButton.NoButton)
    mask = workspace.doc.mask
    thin, thick = (mask[:, 14] > 127).sum(), (mask[:, 78] > 127).sum()
    assert 1 <= thin <= 4 and 18 <= thick <= 22
    assert len(workspace.doc.undo_stack) == 1
