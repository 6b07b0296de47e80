"""UI fixtures: offscreen Qt, temp user folders, a scripted FakeEngine, a MainWindow wired to it."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PIL import Image

from studio.core.events import Cancelled, Event, Failed, FailureKind, Finished, Queued, Started, Step
from studio.core.request import GenerationRequest


class FakeEngine:
    """Same interface as `studio.engine.engine.Engine`; jobs run only when a test scripts them.

    Events are published from a separate thread (like the real engine's publisher thread)."""

    def __init__(self, publish: Callable[[Event], None], **_options: Any) -> None:
        self.publish = publish
        self.started = False
        self.requests: dict[int, GenerationRequest] = {}
        self.cancelled: list[int] = []
        self.preloaded: list[str] = []
        self.shut_down = False
        self._next = 1

    def start(self) -> None:
        self.started = True

    def submit(self, request: GenerationRequest) -> int:
        job = self._next
        self._next += 1
        self.requests[job] = request
        self.publish(Queued(job, 0))
        return job

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        return True

    def preload(self, ref: str) -> None:
        self.preloaded.append(ref)

    def shutdown(self, timeout: float = 10.0) -> bool:
        self.shut_down = True
        return True

    @property
    def busy(self) -> bool:
        return False

    # -- scripting --------------------------------------------------------------------------------
    def emit_from_thread(self, events: list[Event]) -> None:
        thread = threading.Thread(target=lambda: [self.publish(e) for e in events])
        thread.start()
        thread.join()

    def run(
        self,
        job: int,
        steps: int = 4,
        color: tuple[int, int, int] = (200, 30, 40),
        *,
        finish: bool = True,
        cancel_at: int | None = None,
    ) -> None:
        request = self.requests[job]
        events: list[Event] = [Started(job, steps, request.batch)]
        size = (request.height, request.width, 3)
        for i in range(1, steps + 1):
            if cancel_at is not None and i > cancel_at:
                events.append(Cancelled(job, cancel_at))
                break
            shade = np.full(size, [c * i // steps for c in color], dtype=np.uint8)
            events.append(Step(job, i, steps, 0.1 * i, shade, "x0"))
        else:
            if finish:
                images = [Image.new("RGB", (request.width, request.height), color) for _ in request.seeds()]
                events.append(Finished(job, images, request.seeds(), request, 0.1 * steps))
        self.emit_from_thread(events)

    def fail(self, job: int, message: str = "Out of memory: try a smaller size.") -> None:
        self.emit_from_thread([Failed(job, FailureKind.OUT_OF_MEMORY, message, "Traceback: fake detail")])


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    for var, name in (
        ("STUDIO_CONFIG_DIR", "config"),
        ("STUDIO_DATA_DIR", "data"),
        ("STUDIO_OUTPUT_DIR", "output"),
        ("STUDIO_LOG_DIR", "logs"),
        ("STUDIO_MODELS_DIR", "models"),
    ):
        monkeypatch.setenv(var, str(tmp_path / name))
    from studio.core.paths import user_dirs as make

    return make().ensure()


@pytest.fixture
def settings(user_dirs: Any) -> Any:
    import dataclasses

    from studio.core.settings import Settings

    return dataclasses.replace(
        Settings(), output_dir=user_dirs.output, model_dirs=[user_dirs.models], preview_interval=1
    )


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

    save_file = lambda self, title, suggested, file_filter: self.files.pop(0) if self.files else None  # noqa: E731
    open_folder = lambda self, title: self.files.pop(0) if self.files else None  # noqa: E731


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
