""" "Upscale…" from the Generate tab's history, with the real Engine: the dialog's options become an
upscale job run off the GUI thread, its result is saved as a new image (scale x the original, the
upscaler named in its parameters) and shown in the history; the original file is untouched. A
cancelled dialog runs nothing, a missing upscaler is a clear error in the banner."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.core.request import UpscaleOptions
from tests.upscaler_files import esrgan_file

pytestmark = pytest.mark.slow


@pytest.fixture
def real_window(qtbot: Any, settings: Any, preset_store: Any) -> Any:
    from studio.app import engine_factory
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow

    settings = dataclasses.replace(settings, device="cpu", precision="fp32")
    bridge = EngineBridge(engine_factory(settings))
    win = MainWindow(bridge, settings, preset_store)
    qtbot.addWidget(win)
    win.show()
    yield win
    bridge.shutdown(timeout=20)


def _picture(path: Path) -> Path:
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path)
    return path


def test_upscale_a_history_image_with_a_model_upscaler(
    qtbot: Any, real_window: Any, user_dirs: Any, tmp_path: Path
) -> None:
    win = real_window
    esrgan_file(user_dirs.upscalers / "4x-Tiny.safetensors")
    win.refresh_own_files()
    source = _picture(tmp_path / "small.png")
    before = source.read_bytes()
    asked: list[Any] = []

    def answer(_parent: Any, size: Any, models: Any, _title: str) -> UpscaleOptions:
        asked.append((size, list(models)))
        return UpscaleOptions(enabled=True, scale=2.0, upscaler="4x-Tiny")

    win.history_actions.ask_upscale = answer
    with qtbot.waitSignal(win.generation.results_saved, timeout=120_000) as blocker:
        win.history_actions.run("upscale", source)
    assert asked == [((32, 24), ["4x-Tiny"])]
    saved = blocker.args[0][0].path
    with Image.open(saved) as im:
        assert im.size == (64, 48)
        text = im.text["parameters"]
    assert "Upscale: 2" in text and "Upscaler: 4x-Tiny" in text
    assert source.read_bytes() == before  # the original is untouched
    assert win.history.path_of(win.history.item(0)) == saved


def test_cancelled_dialog_runs_nothing_and_a_missing_upscaler_is_an_error(
    qtbot: Any, real_window: Any, tmp_path: Path
) -> None:
    win = real_window
    source = _picture(tmp_path / "small.png")
    win.history_actions.ask_upscale = lambda *_: None
    assert win.history_actions.upscale(source) is None and win.generation.job is None
    win.history_actions.ask_upscale = lambda *_: UpscaleOptions(enabled=True, upscaler="4x-Gone")
    win.history_actions.upscale(source)
    qtbot.waitUntil(lambda: win.generation.job is None, timeout=60_000)
    assert win.banner.isVisible() and "'4x-Gone' was not found" in win.banner.message.text()
