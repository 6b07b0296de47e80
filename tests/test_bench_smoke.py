"""The benchmark scripts still run: their CPU smoke paths (tiny model, a few steps) exit 0 and print a table.

Marked `bench`: not in the default run (see tests/conftest.py); run them with `pytest -m bench`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.bench


def _run(script: str, *args: str, tmp_path: Path) -> str:
    env = dict(
        os.environ,
        STUDIO_BENCH_CACHE=str(tmp_path / "bench-cache"),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        QT_QPA_PLATFORM="offscreen",
    )
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, (
        f"{script} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.mark.parametrize(
    ("script", "args", "header"),
    [
        ("bench_gpu.py", ("--smoke",), "| arch"),
        ("bench_overhead.py", ("--quick", "--threads", "1"), "| model"),
        ("bench_infill.py", ("--quick",), "| case"),
        ("bench_control.py", ("--quick",), "| model"),
        ("bench_canvas.py", ("--quick",), " zoom"),
        ("bench_dit.py", ("--smoke",), "| arch"),  # SD3 / Flux tiny models through the engine
        ("bench_remote.py", ("--replay", "--cached-jobs", "2"), "| jobs"),  # the replay of a ComfyUI session
    ],
)
def test_bench_smoke(script: str, args: tuple[str, ...], header: str, tmp_path: Path) -> None:
    out = _run(script, *args, tmp_path=tmp_path)
    assert "### " in out
    assert any(line.startswith(header) for line in out.splitlines()), out[-2000:]
