"""Settings dialog (values reach the window and are saved), shortcuts dialog, theme, icons."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from studio.core.events import Finished
from studio.core.paths import resource
from studio.core.request import PreviewKind
from studio.core.settings import Settings, load_settings, save_settings
from studio.ui.dialogs.settings_dialog import SettingsDialog
from studio.ui.theme import apply_theme, resolve_theme
from studio.ui.widgets.history import ACTIONS


def test_settings_dialog_round_trip(qtbot: Any, answers: Any, tmp_path: Path) -> None:
    settings = Settings(output_dir=str(tmp_path / "out"), model_dirs=("/a",))
    dialog = SettingsDialog(settings, answers)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.precision.setCurrentIndex(dialog.precision.findData("bf16"))
    dialog.preview_kind.setCurrentIndex(dialog.preview_kind.findData("latent"))
    dialog.preview_interval.setValue(3)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    answers.files = ["/models/more"]
    dialog._add_model_dir()
    new = dialog.result_settings()
    assert (new.device, new.precision, new.preview_kind, new.preview_interval, new.theme) == (
        "cpu",
        "bf16",
        "latent",
        3,
        "dark",
    )
    assert new.model_dirs == ("/a", "/models/more") and new.output_dir == str(tmp_path / "out")
    save_settings(new, tmp_path / "s.json")
    assert load_settings(tmp_path / "s.json").preview_interval == 3


def test_applying_settings_updates_the_window_and_saves(window: Any, tmp_path: Path) -> None:
    saved: list[Any] = []
    window._save_settings = saved.append
    new = dataclasses.replace(
        window.settings, preview_kind="latent", preview_interval=0, output_dir=str(tmp_path / "elsewhere")
    )
    window.apply_settings(new)
    assert saved == [new]
    assert window.vm.preview is PreviewKind.LATENT and window.generation.preview_interval == 0
    assert not window.progress.x0_button.isEnabled()
    assert window.output_dir() == tmp_path / "elsewhere"
    window.show_settings().reject()


def test_settings_problems_show_in_the_banner(qtbot: Any, settings: Any, preset_store: Any) -> None:
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from tests.ui.fakes import FakeEngine

    broken = dataclasses.replace(settings, problems=("The settings file was damaged; defaults are used.",))
    win = MainWindow(EngineBridge(FakeEngine), broken, preset_store)
    qtbot.addWidget(win)
    win.show()
    assert win.banner.isVisible() and "damaged" in win.banner.message.text()


def test_shortcuts_dialog_lists_every_menu_shortcut(window: Any) -> None:
    dialog = window.show_shortcuts()
    listed = {dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())}
    for action in window.actions() + window.page.actions():
        keys = action.shortcut().toString()
        if keys:
            assert keys.replace("Return", "Enter") in listed or keys in listed, keys
    dialog.reject()


def test_theme_and_icons() -> None:
    app = QApplication.instance()
    assert resolve_theme("dark") == "dark" and resolve_theme("light") == "light"
    assert resolve_theme("system") in ("dark", "light")
    assert apply_theme(app, "dark") == "dark"
    assert "#7c6cff" in app.styleSheet() and "@ICONS@" not in app.styleSheet()
    for _name, _label, icon_name in ACTIONS:
        assert resource("icons", f"{icon_name}.svg").is_file()
    for name in ("generate", "cancel", "app", "warning", "chevron-down"):
        assert resource("icons", f"{name}.svg").is_file()


def test_new_device_restarts_the_idle_engine(window: Any) -> None:
    from tests.ui.conftest import engine_of

    first = engine_of(window)
    window.apply_settings(dataclasses.replace(window.settings, device="cpu", precision="fp32"))
    assert first.shut_down and len(window.fake_engines) == 2
    assert window.fake_engines[-1].preloaded == [window.vm.model]
    window.apply_settings(dataclasses.replace(window.settings, theme="dark"))  # no restart
    assert len(window.fake_engines) == 2


def test_light_theme_uses_dark_icons() -> None:
    from studio.ui.icons import icon_path

    app = QApplication.instance()
    try:
        apply_theme(app, "light")
        assert icon_path("cancel").parent.name == "light"
        assert "#3b3d48" in icon_path("cancel").read_text()
    finally:
        apply_theme(app, "dark")
    assert icon_path("cancel").parent.name == "icons"


def test_new_device_does_not_stop_a_canvas_job(window: Any, qtbot: Any) -> None:
    """A job submitted outside the Generate tab (the canvas's) keeps the engine until it ends."""
    from tests.ui.conftest import engine_of

    first = engine_of(window)
    job = window.submit(window.vm.request())  # as the canvas does
    assert job.rejection is None and not window.generation.busy
    window.apply_settings(dataclasses.replace(window.settings, device="cpu", precision="fp32"))
    assert not first.shut_down and first.cancelled == []
    request = job.request
    first.emit_from_thread([Finished(job.id, [], request.seeds(), request, 0.1)])
    # the change applies once the job has ended: the engine restarts and preloads the model
    qtbot.waitUntil(lambda: first.shut_down and len(window.fake_engines) == 2, timeout=5000)
    assert window.fake_engines[-1].preloaded == [window.vm.model]
