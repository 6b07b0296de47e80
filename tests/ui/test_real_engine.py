"""End to end with the real Engine and the tiny pipeline: Generate -> previews -> saved PNG."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_dir: Path) -> Path:
    return tiny_dir


def test_generate_with_the_real_engine(
    qtbot: Any, settings: Any, preset_store: Any, tiny_model_dir: Path
) -> None:
    from studio.app import engine_factory
    from studio.core.metadata import read_png_metadata
    from studio.core.request import PreviewKind
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow

    settings = dataclasses.replace(settings, device="cpu", precision="fp32")
    bridge = EngineBridge(engine_factory(settings))
    win = MainWindow(bridge, settings, preset_store)
    qtbot.addWidget(win)
    win.show()
    steps: list[Any] = []
    bridge.step.connect(steps.append)
    try:
        vm = win.vm
        for name, value in {
            "prompt": "a tiny test",
            "model": str(tiny_model_dir),
            "width": 64,
            "height": 64,
            "steps": 4,
            "randomize_seed": False,
            "seed": 11,
            "scheduler": "Euler",
            "preview": PreviewKind.X0,
        }.items():
            vm.set(name, value)
        assert win.generate() is not None
        with qtbot.waitSignal(win.generation.results_saved, timeout=120_000) as blocker:
            pass
        saved = blocker.args[0]
        assert len(saved) == 1 and saved[0].path.is_file()
        assert steps and steps[-1].step == 4 and steps[-1].preview is not None
        meta = read_png_metadata(saved[0].path)
        assert meta is not None and meta.prompt == "a tiny test" and meta.settings["Seed"] == "11"
        assert win.preview.image().size().width() == 64 and win.generate_button.isEnabled()
        assert win.progress.label.text().startswith("Done")
    finally:
        bridge.shutdown(timeout=20)
        win.close()
