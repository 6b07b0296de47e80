"""Painter's ergonomics: Esc cancels a running job, shortcuts work as soon as the tab is shown and are
listed in Help → Keyboard shortcuts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from studio.core.events import Cancelled, Step
from studio.core.request import PreviewKind
from studio.ui.canvas.tools import Tool


def _paint(ws, rect=(30, 20, 50, 40)) -> None:
    left, top, right, bottom = rect
    ws.doc.set_mask_region(rect, np.full((bottom - top, right - left), 255, np.uint8), "test")


def _running_job(ws, submits) -> None:
    _paint(ws)
    ws.inpaint()
    submits.start()
    submits.send(Step(101, 1, 4, 0.1, np.zeros((64, 64, 3), np.uint8), PreviewKind.X0))
    assert ws.view._preview is not None


def test_esc_cancels_the_running_job_and_keeps_the_document(workspace, submits, qtbot) -> None:
    """Esc while a job runs asks the engine to cancel it; when the job has ended (Cancelled), the
    preview is gone, the document is as it was and the canvas is free for the next job."""
    _running_job(workspace, submits)
    before = workspace.doc.image.copy()
    workspace.view.setFocus()
    qtbot.keyClick(workspace.view, Qt.Key.Key_Escape)
    assert submits.cancelled == [101]
    submits.send(Cancelled(101, 1))
    assert workspace.view._preview is None and not workspace.generation.busy
    assert not workspace.generation.has_candidates and np.array_equal(workspace.doc.image, before)
    assert workspace.inpaint_panel.button.isEnabled()
    assert not workspace.actions_["cancel_job"].isEnabled()  # Esc is the discard key again


def test_results_that_arrive_after_esc_are_kept_for_review(workspace, submits, qtbot) -> None:
    """A job that finished before the engine saw the cancel delivers its results: they are kept as
    candidates (nothing is lost); a second Esc discards them."""
    _running_job(workspace, submits)
    workspace.view.setFocus()
    qtbot.keyClick(workspace.view, Qt.Key.Key_Escape)
    req = submits.requests[0]
    submits.finish([Image.fromarray(np.asarray(req.init_image))])
    assert workspace.generation.has_candidates
    qtbot.keyClick(workspace.view, Qt.Key.Key_Escape)
    assert not workspace.generation.has_candidates


def test_esc_with_no_job_and_no_results_does_nothing(workspace, submits, qtbot) -> None:
    workspace.view.setFocus()
    qtbot.keyClick(workspace.view, Qt.Key.Key_Escape)
    assert not submits.cancelled and not workspace.generation.busy


# -- through the main window ------------------------------------------------------------------------
def _app_canvas(window: Any, tmp_path: Path) -> Any:
    from studio.app import attach_canvas

    canvas = attach_canvas(window, tmp_path / "autosave")
    assert canvas is not None
    canvas.unsaved_choice = lambda parent: "discard"  # closing the window asks no question
    window.activateWindow()
    return canvas


def test_tool_keys_work_right_after_the_canvas_tab_is_shown(window: Any, tmp_path: Path, qtbot: Any) -> None:
    canvas = _app_canvas(window, tmp_path)
    window.tabs.tabBar().setFocus()  # the artist clicked the tab: focus is on the tab bar
    window.tabs.setCurrentWidget(canvas)
    focus = QApplication.focusWidget()
    assert focus is not None and canvas.isAncestorOf(focus)
    qtbot.keyClick(focus, Qt.Key.Key_R)
    assert canvas.view.tools.tool is Tool.RECT
    size = canvas.view.tools.settings.size
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketRight)
    assert canvas.view.tools.settings.size > size
    canvas.doc.set_mask_region((0, 0, 8, 8), np.full((8, 8), 255, np.uint8), "m")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not canvas.doc.mask.any()  # the canvas's undo, not the window's


def test_the_shortcuts_dialog_lists_the_canvas_shortcuts(window: Any, tmp_path: Path) -> None:
    canvas = _app_canvas(window, tmp_path)
    canvas.doc.path = tmp_path / "photo.png"  # the tab now shows the file name …
    canvas.title_changed.emit(canvas.title())
    dialog = window.show_shortcuts()
    table = dialog.table
    rows = {(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())}
    dialog.close()
    for expected in (  # … the shortcuts are still headed "Canvas"
        ("Esc", "Canvas: Cancel the running generation"),
        ("Esc", "Canvas: Discard results"),
        ("Ctrl+Return", "Canvas: Inpaint"),
        ("B", "Canvas: Brush tool"),
        ("E", "Canvas: Eraser tool"),
        ("R", "Canvas: Rectangle tool"),
        ("L", "Canvas: Lasso tool"),
        ("F", "Canvas: Canvas frame tool"),
        ("[ / ]", "Canvas: Smaller / larger brush"),
        ("M", "Canvas: Show mask"),
        ("Ctrl+Z", "Canvas: Undo"),
    ):
        assert expected in rows, expected


# -- the region, cursors, the active tool, the brush outline ----------------------------------------
def test_the_region_to_generate_is_drawn_as_the_engine_will_plan_it(workspace, submits, qtbot) -> None:
    from studio.core.request import InpaintArea

    assert workspace.view.region is None  # nothing painted yet
    _paint(workspace, (60, 30, 70, 40))
    qtbot.waitUntil(lambda: workspace.view.region is not None)
    shown = workspace.view.region
    workspace.inpaint()
    the_plan = submits.start()
    assert shown.box == the_plan.region_in_source and shown.generation_size == the_plan.generation_size
    assert shown.box != (0, 0, *workspace.doc.size)  # the selection's box, not the whole picture
    workspace.generation.abandon()
    panel = workspace.inpaint_panel
    panel.area.setCurrentIndex(panel.area.findData(InpaintArea.WHOLE_IMAGE))
    qtbot.waitUntil(lambda: workspace.view.region is None)  # the whole image: no outline
    panel.area.setCurrentIndex(panel.area.findData(InpaintArea.ONLY_MASKED))
    qtbot.waitUntil(lambda: workspace.view.region is not None)
    workspace.doc.clear_mask()
    qtbot.waitUntil(lambda: workspace.view.region is None)


def test_each_tool_has_its_own_cursor_and_the_active_tool_is_shown(workspace, qtbot) -> None:
    view = workspace.view
    view.setFocus()
    seen = {}
    for key, tool, name in (
        (Qt.Key.Key_B, Tool.BRUSH, "Brush (B)"),
        (Qt.Key.Key_E, Tool.ERASER, "Eraser (E)"),
        (Qt.Key.Key_R, Tool.RECT, "Rectangle (R)"),
        (Qt.Key.Key_L, Tool.LASSO, "Lasso (L)"),
    ):
        qtbot.keyClick(view, key)
        assert view.tools.tool is tool
        assert workspace.tool_label.text().startswith(name)
        seen[tool] = view.cursor().pixmap().toImage()
        assert not seen[tool].isNull()
    images = list(seen.values())
    assert all(a != b for i, a in enumerate(images) for b in images[i + 1 :])  # four different cursors
    qtbot.keyClick(view, Qt.Key.Key_B)
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert workspace.tool_label.text() == f"Brush (B) · {view.tools.settings.size} px"


def test_shrinking_the_brush_repaints_where_the_bigger_outline_was(workspace, qtbot) -> None:
    """[ and ] change the size: the area of the outline drawn last is repainted (no ghost rings)."""
    from PySide6.QtCore import QEvent, QObject, QPoint, QRect

    view = workspace.view
    painted: list[QRect] = []

    class Recorder(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint:
                painted.append(event.region().boundingRect())
            return False

    recorder = Recorder()
    view.installEventFilter(recorder)
    view.setFocus()
    qtbot.mouseMove(view, QPoint(150, 150))
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    qtbot.wait(20)
    big = view._painted_cursor.intersected(view.rect())
    assert big.width() > 20 and big.height() > 20
    painted.clear()
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    qtbot.waitUntil(lambda: bool(painted))
    repainted = painted[0]
    for p in painted[1:]:
        repainted = repainted.united(p)
    assert repainted.contains(big), (repainted, big)
    view.removeEventFilter(recorder)
