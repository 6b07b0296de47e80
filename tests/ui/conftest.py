"""UI fixtures: offscreen Qt, temp user folders, a scripted FakeEngine, a MainWindow wired to it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from studio.core.events import Event
from tests.launch import user_dir_env
from tests.ui.fakes import FakeEngine


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for var, value in user_dir_env(tmp_path).items():
        monkeypatch.setenv(var, value)
    from studio.core.paths import user_dirs as make

    return make().ensure()


@pytest.fixture
def settings(user_dirs: Any) -> Any:
    from studio.core.settings import Settings

    return dataclasses.replace(Settings(), output_dir=str(user_dirs.output), preview_interval=1)


@pytest.fixture
def preset_store(user_dirs: Any, tmp_path: Path) -> Any:
    from studio.core.presets import PresetStore

    builtin = tmp_path / "builtin_presets"
    builtin.mkdir()
    return PresetStore(user_dirs.presets, builtin)


class AnswerPrompts:
    """Canned answers for `studio.ui.dialogs.prompts.Prompts` (tests set the attributes)."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.files: list[str] = []
        self.confirm_answer = True
        self.infos: list[tuple[str, str]] = []
        self.confirms: list[str] = []

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        return self.texts.pop(0) if self.texts else None

    def confirm(self, title: str, text: str) -> bool:
        self.confirms.append(text)
        return self.confirm_answer

    def info(self, title: str, text: str) -> None:
        self.infos.append((title, text))

    def open_file(self, title: str, file_filter: str) -> str | None:
        return self.files.pop(0) if self.files else None

    def save_file(self, title: str, suggested: str, file_filter: str) -> str | None:
        return self.files.pop(0) if self.files else None

    def open_folder(self, title: str) -> str | None:
        return self.files.pop(0) if self.files else None


@pytest.fixture
def answers() -> AnswerPrompts:
    return AnswerPrompts()


@pytest.fixture
def window(qtbot: Any, settings: Any, preset_store: Any, answers: AnswerPrompts) -> Iterator[Any]:
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow

    engines: list[FakeEngine] = []

    def factory(publish: Callable[[Event], None]) -> FakeEngine:
        engines.append(FakeEngine(publish))
        return engines[-1]

    bridge = EngineBridge(factory)
    win = MainWindow(bridge, settings, preset_store)
    win.prompts = answers
    win.presets_panel.prompts = answers
    qtbot.addWidget(win)
    win.show()
    win.fake_engines = engines  # type: ignore[attr-defined]
    yield win
    win.close()


def engine_of(win: Any) -> FakeEngine:
    win.bridge.ensure_engine()
    return win.fake_engines[-1]
