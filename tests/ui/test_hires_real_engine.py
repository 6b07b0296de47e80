"""The hires fix end to end on the Generate tab with the real Engine and the tiny model: the progress
bar counts both passes, previews arrive from both, the saved PNG is base size x scale with A1111's
Hires fields."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

pytestmark = pytest.mark.slow


def test_hires_fix_on_the_generate_tab(qtbot: Any, settings: Any, preset_store: Any, tiny_dir: Path) -> None:
    from studio.app import engine_factory
    from studio.core.request import HiresOptions, PreviewKind
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
        for name, value in {
            "prompt": "a tiny test",
            "model": str(tiny_dir),
            "width": 64,
            "height": 64,
            "steps": 4,
            "randomize_seed": False,
            "seed": 11,
            "scheduler": "Euler",
            "preview": PreviewKind.X0,
        }.items():
            win.vm.set(name, value)
        panel = win.controls.hires
        panel.setChecked(True)
        panel.scale.setValue(2.0)
        panel.denoise.spin.setValue(0.5)
        assert win.vm.hires == HiresOptions(enabled=True, scale=2.0, denoise=0.5)
        assert win.generate() is not None
        with qtbot.waitSignal(win.generation.results_saved, timeout=120_000) as blocker:
            pass
        # the bar counts both passes: 4 + int(4 x 0.5) (steps may be coalesced, the last one arrives)
        assert steps[-1].step == 6 and {s.total for s in steps} == {6}
        assert steps[-1].preview is not None and steps[-1].preview.shape[:2] == (16, 16)  # 128 px latents
        saved = blocker.args[0][0].path
        with Image.open(saved) as im:
            assert im.size == (128, 128)
            text = im.text["parameters"]
        assert "Size: 64x64" in text and "Hires upscale: 2, Hires upscaler: Latent" in text
    finally:
        bridge.shutdown(timeout=20)
        win.close()
