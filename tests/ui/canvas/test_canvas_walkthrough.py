"""The canvas walkthrough (tests/ui/canvas/walkthrough.py) runs to the end: every step of the issue's
journey through the real window, the real Engine with studio-mini, and the real app killed with
SIGKILL and restored, passes, and its screenshots are written. About a minute on two CPU cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.paths import builtin_model_dir
from tests.launch import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL"),
    pytest.mark.skipif(
        not (builtin_model_dir() / "model_index.json").exists(), reason="studio-mini is not installed"
    ),
]
SHOTS = ("mask", "preview", "candidates", "outpaint", "restore")


def test_every_step_of_the_canvas_walkthrough_passes(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "tests.ui.canvas.walkthrough", str(tmp_path / "shots")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert done.returncode == 0 and lines[-1] == "PASS walkthrough: 9/9 steps", (
        "\n".join(lines) + "\n" + done.stderr[-4000:]
    )
    for name in SHOTS:
        assert (tmp_path / "shots" / f"screenshot-canvas-{name}.png").stat().st_size > 10_000, name
