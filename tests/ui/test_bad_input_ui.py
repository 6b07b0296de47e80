"""The app on hostile input (issue 11): it starts, says what is wrong, and keeps what it had."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.request import GenerationRequest
from tests.bad_files import DEEP_JSON, bomb_png
from tests.launch import smoke_run


def test_app_starts_with_deeply_nested_settings(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.json").write_text(DEEP_JSON, encoding="utf-8")
    done, reports = smoke_run(tmp_path)
    assert "RecursionError" not in done.stderr
    assert reports[-1]["shown_ms"] > 0
    (moved,) = config.glob("settings.json.broken-*")
    assert moved.read_text(encoding="utf-8") == DEEP_JSON  # set aside, not lost


def test_load_parameters_from_a_bomb_says_why(window: Any, answers: Any, tmp_path: Path) -> None:
    window.vm.set_request(GenerationRequest(prompt="kept", steps=13))
    bomb = bomb_png(tmp_path / "bomb.png")
    window.history.action_requested.emit("reuse_parameters", bomb)
    title, text = answers.infos[-1]
    assert title == "Cannot read the image"
    assert text.startswith("bomb.png is too large to open safely (400 million pixels)")
    assert (window.vm.prompt, window.vm.request().steps) == ("kept", 13)
