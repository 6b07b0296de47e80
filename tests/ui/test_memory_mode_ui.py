"""The GPU memory mode setting in the UI: the Settings dialog's combo, the engine the app builds, the
engine restart when it changes, and the status bar naming a mode that is not "full"."""

from __future__ import annotations

import dataclasses
from typing import Any

from studio.core.events import ModelReady
from studio.core.settings import MEMORY_MODES, Settings
from studio.ui.dialogs.settings_dialog import SettingsDialog


def test_dialog_offers_every_mode_and_returns_the_chosen_one(qtbot: Any, answers: Any) -> None:
    dialog = SettingsDialog(Settings(memory_mode="vae"), answers)
    qtbot.addWidget(dialog)
    offered = tuple(dialog.memory_mode.itemData(i) for i in range(dialog.memory_mode.count()))
    assert offered == MEMORY_MODES
    assert dialog.memory_mode.currentData() == "vae"  # the current setting is selected
    dialog.memory_mode.setCurrentIndex(dialog.memory_mode.findData("sequential"))
    assert dialog.result_settings().memory_mode == "sequential"


def test_the_app_passes_the_memory_mode_to_the_engine(monkeypatch: Any) -> None:
    import studio.engine.engine as engine_module
    from studio.app import engine_factory

    made: list[dict[str, Any]] = []
    monkeypatch.setattr(engine_module, "Engine", lambda publish, **kw: made.append(kw))
    engine_factory(Settings(memory_mode="model_offload"))(lambda event: None)
    assert made[0]["memory_mode"] == "model_offload"


def test_a_new_memory_mode_restarts_the_idle_engine(window: Any) -> None:
    from tests.ui.conftest import engine_of

    first = engine_of(window)
    window.apply_settings(dataclasses.replace(window.settings, memory_mode="sequential"))
    assert first.shut_down and len(window.fake_engines) == 2


def test_status_bar_names_a_memory_mode_other_than_full(window: Any) -> None:
    def ready(mode: str) -> ModelReady:
        return ModelReady(0, "sdxl.safetensors", "cuda", "torch.float16", 2.0, 1024, "", mode)

    window.status.on_model_ready(ready("model_offload"))
    assert window.status.model_label.text() == "sdxl.safetensors · cuda · float16 · model offload"
    window.status.on_model_ready(ready("full"))
    assert window.status.model_label.text() == "sdxl.safetensors · cuda · float16"
