"""`studio FILE` (the desktop entry's `Exec=studio %F`) opens the file in the canvas: the real app,
started as a subprocess, reports what its canvas holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _launch(tmp_path: Path, *files: Path) -> list[dict[str, object]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    for var in ("CONFIG", "DATA", "OUTPUT", "LOG", "MODELS"):
        env[f"STUDIO_{var}_DIR"] = str(tmp_path / var.lower())
    done = subprocess.run(
        [sys.executable, "-m", "studio.app", "--smoke-exit-after-shown", *map(str, files)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_a_file_on_the_command_line_opens_in_the_canvas(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.new("RGB", (96, 40), (200, 30, 30)).save(photo)
    reports = _launch(tmp_path, photo)
    assert reports[-1]["canvas_path"] == str(photo)
    assert reports[-1]["canvas_size"] == [96, 40]


def test_a_missing_file_still_opens_the_window(tmp_path: Path) -> None:
    reports = _launch(tmp_path, tmp_path / "nowhere.png")
    assert reports[-1]["canvas_path"] is None
