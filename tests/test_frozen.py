"""The frozen (PyInstaller) build works as a user runs it: packaging/check_frozen.py against dist/studio
(studio-cli generate with the built-in model, studio-cli info, the window opening offscreen).

The build takes 10-20 minutes, so no test makes it: run `bash packaging/build_frozen.sh` first. Without
dist/studio/studio the test is skipped. It checks whatever build is there, which may be older than
the source.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist" / "studio"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DIST / "studio").exists(),
        reason="no frozen build in dist/studio: run packaging/build_frozen.sh first",
    ),
]


def test_frozen_build_generates_shows_info_and_opens_window() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "check_frozen.py"), str(DIST)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FROZEN CHECK PASSED" in done.stdout
