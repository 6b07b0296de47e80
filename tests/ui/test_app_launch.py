"""The window is on screen before torch is imported (subprocess: a fresh interpreter)."""

from __future__ import annotations

from pathlib import Path

from tests.launch import smoke_run


def test_window_shown_without_torch(tmp_path: Path) -> None:
    _, reports = smoke_run(tmp_path)
    report = reports[-1]
    assert report["torch_loaded"] is False and report["diffusers_loaded"] is False
    assert report["shown_ms"] > 0


def test_engine_starts_after_the_window_is_shown(qtbot, settings, preset_store, monkeypatch) -> None:
    """start_engine (called after show) creates the engine and preloads the chosen model."""
    from studio import app
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from tests.ui.fakes import FakeEngine

    engines: list[FakeEngine] = []
    bridge = EngineBridge(lambda publish: engines.append(FakeEngine(publish)) or engines[-1])
    win = MainWindow(bridge, settings, preset_store)
    qtbot.addWidget(win)
    win.show()
    assert engines == []
    app.start_engine(win, preload=True)
    assert engines[0].started and engines[0].preloaded == [""]
    assert "Loading" in win.status.model_label.text()


def test_canvas_workspace_is_wired(qtbot, window, tmp_path) -> None:
    from PIL import Image

    from studio import app
    from studio.ui.canvas.workspace import CanvasWorkspace

    canvas = app.attach_canvas(window, tmp_path / "autosave")
    assert isinstance(canvas, CanvasWorkspace)
    assert window.tabs.count() == 2 and window.tabs.tabText(1).startswith("Canvas")
    picture = tmp_path / "pic.png"
    Image.new("RGB", (48, 40), (10, 200, 30)).save(picture)
    window.open_in_canvas_requested.emit(picture)
    assert window.tabs.currentWidget() is canvas
    assert canvas.doc.image.shape[:2] == (40, 48)
