"""The app on hostile input (issue 11): it starts, says what is wrong, and keeps what it had."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from studio.core.request import GenerationRequest
from tests.bad_files import DEEP_JSON, bomb_png

ROOT = Path(__file__).resolve().parents[2]


def test_app_starts_with_deeply_nested_settings(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    for var, name in (
        ("STUDIO_CONFIG_DIR", "c"),
        ("STUDIO_DATA_DIR", "d"),
        ("STUDIO_OUTPUT_DIR", "o"),
        ("STUDIO_LOG_DIR", "l"),
        ("STUDIO_MODELS_DIR", "m"),
    ):
        env[var] = str(tmp_path / name)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "settings.json").write_text(DEEP_JSON, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "studio.app", "--smoke-exit-after-shown"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RecursionError" not in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["shown_ms"] > 0
    (moved,) = (tmp_path / "c").glob("settings.json.broken-*")
    assert moved.read_text(encoding="utf-8") == DEEP_JSON  # set aside, not lost


def test_load_parameters_from_a_bomb_says_why(window: Any, answers: Any, tmp_path: Path) -> None:
    window.vm.set_request(GenerationRequest(prompt="kept", steps=13))
    bomb = bomb_png(tmp_path / "bomb.png")
    window.history.action_requested.emit("reuse_parameters", bomb)
    title, text = answers.infos[-1]
    assert title == "Cannot read the image"
    assert text.startswith("bomb.png is too large to open safely (400 million pixels)")
    assert (window.vm.prompt, window.vm.request().steps) == ("kept", 13)
