"""Files from a newer Studio survive a launch of this one (the real entry point, in a subprocess).

Before this was fixed, a preset with a higher schema_version was renamed to `*.broken-*` on the
first launch and gone from the preset list for good.
"""

from __future__ import annotations

import json
from pathlib import Path

from studio.core.presets import SCHEMA_VERSION
from studio.core.settings import SETTINGS_VERSION
from tests.launch import app_env, run_app

FUTURE_PRESET = {
    "schema_version": SCHEMA_VERSION + 1,
    "name": "From the future",
    "settings": {"steps": 9, "loras": [{"name": "ink", "weight": 0.5}]},
    "thumbnail": "future.png",
}
FUTURE_SETTINGS = {
    "version": SETTINGS_VERSION + 1,
    "theme": "dark",
    "device": "xpu",  # a device this version does not know
    "gallery": {"columns": 4},
    "last_request": {"prompt": "a comet", "lora_stack": ["ink"]},
}


def test_newer_preset_and_settings_survive_a_launch(tmp_path: Path) -> None:
    presets = tmp_path / "config" / "presets"
    presets.mkdir(parents=True)
    preset = presets / "from-the-future.json"
    preset.write_text(json.dumps(FUTURE_PRESET, indent=2), encoding="utf-8")
    before = preset.read_bytes()
    settings = tmp_path / "config" / "settings.json"
    settings.write_text(json.dumps(FUTURE_SETTINGS, indent=2), encoding="utf-8")

    result = run_app(tmp_path, env=app_env(tmp_path, STUDIO_SMOKE_EXIT="1"))

    assert result.returncode == 0, result.stderr[-3000:]
    assert preset.read_bytes() == before  # still there, byte for byte
    assert sorted(p.name for p in presets.iterdir()) == [preset.name]
    assert not list(tmp_path.rglob("*.broken-*"))
    saved = json.loads(settings.read_text(encoding="utf-8"))  # the app saves settings when it quits
    assert saved["version"] == SETTINGS_VERSION + 1 and (saved["theme"], saved["device"]) == ("dark", "xpu")
    assert saved["gallery"] == {"columns": 4} and saved["last_request"]["lora_stack"] == ["ink"]
    logs = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*.log*"))
    assert "newer Studio" in logs
