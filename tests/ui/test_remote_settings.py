"""Choosing ComfyUI servers in the window (issue 16), with fake server calls and a fake engine.

The window is built as `studio` builds it (app.build_window, the user folders on disk): servers chosen
in the Settings dialog are saved (settings.json without the token, the token in its 0600 file) and
come back in a new window; the engine restarts built for the servers; the status bar says where jobs
run; the model picker lists the servers' checkpoints and the request carries the chosen one; "Test"
answers off the GUI thread; a bad URL keeps the dialog open and says which.
"""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QLineEdit

from studio.core.events import Event
from studio.core.paths import user_dirs as current_user_dirs
from studio.core.remote_servers import TOKENS_FILE, RemoteServer
from studio.ui.servers import ServerServices
from tests.ui.fakes import FakeEngine

SECRET = "t0ken-for-the-proxy"
CHECKPOINTS = ["sd15-random.safetensors", "dreamy-v2.safetensors"]


class FakeServers:
    """Stands in for studio.app_remote's probe and checkpoint list (the real ones: HTTP)."""

    def __init__(self) -> None:
        self.asked: list[tuple[RemoteServer, ...]] = []
        self.models_error = ""
        self.listed = list(CHECKPOINTS)  # the checkpoints the servers list
        self.threads: set[str] = set()

    def probe(self, server: RemoteServer) -> str:
        self.threads.add(threading.current_thread().name)
        if "unreachable" in server.url:
            raise ConnectionError(f"Cannot reach the ComfyUI server at {server.url}: connection refused.")
        return "ComfyUI 0.3.75, 1 CPU, queue 0"

    def models(self, servers: Sequence[RemoteServer]) -> list[str]:
        self.threads.add(threading.current_thread().name)
        self.asked.append(tuple(servers))
        if self.models_error:
            raise ConnectionError(self.models_error)
        return list(self.listed)

    def services(self) -> ServerServices:
        return ServerServices(probe=self.probe, models=self.models)


def _window(
    qtbot: Any, answers: Any, servers: FakeServers, built: list[tuple[str, tuple[RemoteServer, ...]]]
) -> Any:
    from studio.app import build_window

    def factory(source: Callable[[], Any]) -> Callable[[Callable[[Event], None]], FakeEngine]:
        def create(publish: Callable[[Event], None]) -> FakeEngine:
            current = source()
            built.append((current.run_on, current.comfyui_servers))
            return FakeEngine(publish)

        return create

    win = build_window(QApplication.instance(), current_user_dirs(), factory, servers.services())
    win.prompts = answers
    win.presets_panel.prompts = answers
    qtbot.addWidget(win)
    win.show()
    return win


def _fill_row(section: Any, row: int, url: str, name: str = "", token: str = "") -> None:
    for column, text in enumerate((url, name, token)):
        editor = section.table.cellWidget(row, column)
        assert isinstance(editor, QLineEdit)
        editor.setText(text)


def _choose_servers(win: Any, rows: Sequence[tuple[str, str, str]]) -> Any:
    dialog = win.show_settings()
    section = dialog.servers
    section.remote.setChecked(True)
    for url, name, token in rows:
        _fill_row(section, section.add_server(), url, name, token)
    return dialog


def _picker_items(win: Any) -> list[str]:
    combo = win.model_picker.combo
    return [combo.itemText(i) for i in range(combo.count())]


def test_servers_chosen_in_settings_persist_with_the_token_in_its_own_file(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    win.bridge.ensure_engine()  # running locally first
    assert built[-1][0] == "local"
    assert win.status.where_label.text() == "This computer"
    dialog = _choose_servers(win, [("127.0.0.1:8188", "", SECRET), ("http://10.0.0.7:8188/", "GPU box", "")])
    dialog.accept()
    assert not dialog.isVisible()

    expected = (
        RemoteServer("http://127.0.0.1:8188", "", SECRET),
        RemoteServer("http://10.0.0.7:8188", "GPU box"),
    )
    assert win.settings.run_on == "comfyui"
    assert win.settings.comfyui_servers == expected
    saved = json.loads((user_dirs.config / "settings.json").read_text())
    assert saved["run_on"] == "comfyui"
    assert saved["comfyui_servers"] == [
        {"url": "http://127.0.0.1:8188"},
        {"url": "http://10.0.0.7:8188", "name": "GPU box"},
    ]
    assert SECRET not in (user_dirs.config / "settings.json").read_text()
    tokens = user_dirs.config / TOKENS_FILE
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert json.loads(tokens.read_text()) == {"http://127.0.0.1:8188": SECRET}

    # the engine restarted, built for the servers (with the token); the status bar says where
    assert built[-1] == ("comfyui", expected)
    assert win.status.where_label.text() == "ComfyUI: 127.0.0.1:8188 (+1)"
    assert "http://10.0.0.7:8188" in win.status.where_label.toolTip()
    win.close()

    again = _window(qtbot, answers, servers, built)  # a new session reads both files back
    assert again.settings.comfyui_servers == expected
    reopened = again.show_settings().servers
    assert [reopened.status_text(r) for r in range(2)] == ["", ""]
    token_editor = reopened.table.cellWidget(0, 2)
    assert token_editor.text() == SECRET and token_editor.echoMode() == QLineEdit.EchoMode.Password
    again.close()


def test_the_picker_lists_the_servers_checkpoints_and_requests_carry_the_name(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    assert win.model_picker.open_button.isVisibleTo(win)  # local: files can be opened
    _choose_servers(win, [("http://127.0.0.1:8188", "", "")]).accept()
    qtbot.waitUntil(lambda: _picker_items(win) == CHECKPOINTS, timeout=5000)
    assert not servers.threads & {threading.current_thread().name}  # listed off the GUI thread
    assert win.vm.model == CHECKPOINTS[0]
    assert not win.model_picker.open_button.isVisibleTo(win)  # a server cannot load a local file
    win.model_picker.combo.setCurrentIndex(1)
    assert win.vm.model == CHECKPOINTS[1]

    job = win.generate()
    assert job is not None and job.rejection is None
    engine = win.bridge.engine
    assert isinstance(engine, FakeEngine)
    assert engine.requests[job.id].model == CHECKPOINTS[1]
    assert built[-1][0] == "comfyui"
    answers.files = ["/models/local.safetensors"]  # a local file cannot be sent: File → Open says so
    file_menu = win.menuBar().actions()[0].menu()
    opener = next(a for a in file_menu.actions() if a.text() == "Open model file…")
    opener.trigger()
    assert win.vm.model == CHECKPOINTS[1] and answers.files == ["/models/local.safetensors"]
    assert "choose one of their checkpoints" in win.statusBar().currentMessage()
    answers.texts = ["On the GPU box"]  # a preset keeps the server's checkpoint name
    win.presets_panel.menu.findChild(QAction, "preset_save").trigger()
    saved = json.loads(next(Path(user_dirs.presets).glob("*.json")).read_text())
    assert saved["settings"]["model"] == CHECKPOINTS[1]

    # back to this computer: the built-in model and the local list
    dialog = win.show_settings()
    dialog.servers.local.setChecked(True)
    dialog.accept()
    assert win.vm.model == ""
    assert _picker_items(win)[0].startswith("Built-in")
    assert win.status.where_label.text() == "This computer"
    win.close()


def test_the_picker_says_when_the_servers_cannot_list_models_and_asks_again(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    servers, built = FakeServers(), []
    servers.models_error = "Cannot reach the ComfyUI server at http://127.0.0.1:8188: connection refused."
    win = _window(qtbot, answers, servers, built)
    win.server_models.retry_ms = 300
    _choose_servers(win, [("http://127.0.0.1:8188", "", "")]).accept()
    qtbot.waitUntil(lambda: _picker_items(win) == ["Server models unavailable"], timeout=5000)
    assert "connection refused" in win.model_picker.combo.itemData(0, 3)  # the tooltip says why
    servers.models_error = ""  # the server comes up later: it is asked again
    qtbot.waitUntil(lambda: _picker_items(win) == CHECKPOINTS, timeout=5000)
    assert win.vm.model == CHECKPOINTS[0]
    win.close()


def test_test_button_answers_each_server_off_the_gui_thread(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    dialog = _choose_servers(
        win,
        [("http://127.0.0.1:8188", "", ""), ("http://unreachable.invalid:8188", "", ""), ("ftp://x", "", "")],
    )
    section = dialog.servers
    section.test_button.click()
    qtbot.waitUntil(lambda: section.tests_pending == 0, timeout=5000)
    assert section.status_text(0) == "✓ ComfyUI 0.3.75, 1 CPU, queue 0"
    assert section.status_text(1).startswith(
        "✗ Cannot reach the ComfyUI server at http://unreachable.invalid:8188"
    )
    assert "http:// or https://" in section.status_text(2)
    assert threading.current_thread().name not in servers.threads
    dialog.reject()
    win.close()


def test_a_bad_url_keeps_the_dialog_open_and_says_which(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    dialog = _choose_servers(win, [("http://127.0.0.1:8188", "", ""), ("http://host:notaport", "", "")])
    dialog.accept()
    assert dialog.isVisible()
    assert not dialog.servers.error.isHidden()
    assert dialog.servers.error.text().startswith("Server 2:")
    assert win.settings.run_on == "local"
    _fill_row(dialog.servers, 1, "")  # an empty row is skipped
    dialog.accept()
    assert not dialog.isVisible()
    assert win.settings.comfyui_servers == (RemoteServer("http://127.0.0.1:8188"),)
    win.close()


def test_device_rows_are_off_while_servers_run_the_jobs(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = win.show_settings()
    assert dialog.device.isEnabled() and dialog.memory_mode.isEnabled()
    dialog.servers.remote.setChecked(True)
    assert not dialog.device.isEnabled() and not dialog.precision.isEnabled()
    assert "Not used while jobs run on ComfyUI servers" in dialog.memory_mode.toolTip()
    dialog.servers.local.setChecked(True)
    assert dialog.precision.isEnabled() and "Not used" not in dialog.precision.toolTip()
    dialog.reject()
    win.close()


def test_comfyui_without_a_server_is_refused(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    dialog = _choose_servers(win, [])
    dialog.accept()
    assert dialog.isVisible()
    assert "Add a ComfyUI server" in dialog.servers.error.text()
    dialog.reject()
    win.close()


def test_a_settings_file_with_a_bad_server_opens_with_the_others_and_says_which(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    path = Path(user_dirs.config) / "settings.json"
    path.write_text(
        json.dumps({"version": 1, "run_on": "comfyui", "comfyui_servers": ["http://a:8188", "htp//b c"]})
    )
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    assert win.settings.comfyui_servers == (RemoteServer("http://a:8188"),)
    assert "htp//b c" in win.banner.message.text() and "left out" in win.banner.message.text()
    assert win.status.where_label.text() == "ComfyUI: a:8188"
    win.close()


def test_the_engine_factory_builds_the_remote_engine_only_for_servers() -> None:
    import dataclasses

    from studio.app import engine_factory
    from studio.core.settings import Settings
    from studio.engine.engine import Engine
    from studio.remote.engine import RemoteEngine

    remote = Settings(run_on="comfyui", comfyui_servers=(RemoteServer("http://127.0.0.1:9", token=SECRET),))
    engine = engine_factory(remote)(lambda event: None)
    assert isinstance(engine, RemoteEngine) and SECRET not in repr(engine)
    engine.shutdown(timeout=1)  # never started
    for local in (
        dataclasses.replace(remote, run_on="local"),
        dataclasses.replace(remote, comfyui_servers=()),
    ):
        assert isinstance(engine_factory(local)(lambda event: None), Engine)


def test_switching_where_jobs_run_keeps_each_sides_model_choice(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    servers, built = FakeServers(), []
    win = _window(qtbot, answers, servers, built)
    answers.files = ["/models/my-local.safetensors"]  # the artist's local model, opened from a file
    win.model_picker.open_file()
    assert win.vm.model == "/models/my-local.safetensors"
    _choose_servers(win, [("http://127.0.0.1:8188", "", "")]).accept()
    qtbot.waitUntil(lambda: _picker_items(win) == CHECKPOINTS, timeout=5000)
    win.model_picker.combo.setCurrentIndex(1)  # a server checkpoint chosen there
    assert win.vm.model == CHECKPOINTS[1]

    dialog = win.show_settings()  # back to this computer: the local model comes back
    dialog.servers.local.setChecked(True)
    dialog.accept()
    assert win.vm.model == "/models/my-local.safetensors"
    assert win.model_picker.current_ref() == "/models/my-local.safetensors"

    dialog = win.show_settings()  # and to the servers again: their checkpoint, still listed, too
    dialog.servers.remote.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: _picker_items(win) == CHECKPOINTS, timeout=5000)
    assert win.vm.model == CHECKPOINTS[1]
    assert win.model_picker.current_ref() == CHECKPOINTS[1]

    dialog = win.show_settings()  # a checkpoint the servers no longer list: their first one
    dialog.servers.local.setChecked(True)
    dialog.accept()
    servers.listed = ["other.safetensors"]
    dialog = win.show_settings()
    dialog.servers.remote.setChecked(True)
    dialog.accept()
    qtbot.waitUntil(lambda: _picker_items(win) == ["other.safetensors"], timeout=5000)
    assert win.vm.model == "other.safetensors"
    win.close()
