"""The upscaler folders in the settings dialog: kept, added, saved and read back; the window then lists
the model upscalers found there in the hires fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QPushButton

from studio.core.settings import Settings, load_settings, save_settings
from studio.ui.dialogs.settings_dialog import SettingsDialog


def test_upscaler_folders_round_trip_and_reach_the_hires_list(
    qtbot: Any, answers: Any, window: Any, tmp_path: Path
) -> None:
    dialog = SettingsDialog(Settings(upscaler_dirs=("/first",)), answers)
    qtbot.addWidget(dialog)
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "2x-Sharp.safetensors").write_bytes(b"weights")
    answers.files = [str(extra)]
    add = next(b for b in dialog.findChildren(QPushButton) if b.toolTip() == "Add a folder of upscalers")
    add.click()
    new = dialog.result_settings()
    assert new.upscaler_dirs == ("/first", str(extra))
    save_settings(new, tmp_path / "s.json")
    assert load_settings(tmp_path / "s.json").upscaler_dirs == ("/first", str(extra))
    window.apply_settings(dataclasses.replace(window.settings, upscaler_dirs=(str(extra),)))
    panel = window.controls.hires
    assert "2x-Sharp" in [panel.upscaler.itemText(i) for i in range(panel.upscaler.count())]
