"""The README's promise for the background training: `kill -TERM` checkpoints and stops the run, and
starting it again continues from that checkpoint. A real training process (synthetic data, the
trainer `python -m studio_train.v2` runs) is signalled from outside, as `background.sh`'s stop is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import sys, torch
from studio_train.v2.config import Config
from studio_train.v2.trainer import Trainer
from tests.train.test_v2_resume import synthetic_data, text_bank
torch.set_num_threads(1)
cfg = Config.tiny_test()
cfg.stages = [[32, 400], [64, 400]]  # long enough to be signalled mid-run
trainer = Trainer(cfg, __import__("pathlib").Path(sys.argv[1]), synthetic_data(), text_bank())
trainer.resume()
stop = int(sys.argv[2]) if len(sys.argv) > 2 else None
print(trainer.run(stop_at=stop, checkpoint_s=1e9), flush=True)
"""


def _start(work: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, str(work), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _unet_step(work: Path) -> int:
    try:
        progress = json.loads((work / "progress.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return -1
    return int(progress["step"]) if progress.get("phase") == "unet" else -1


def test_sigterm_checkpoints_and_a_new_start_continues_from_it(tmp_path: Path) -> None:
    work = tmp_path / "run"
    child = _start(work)
    try:
        deadline = time.monotonic() + 240
        while _unet_step(work) < 3 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _unet_step(work) >= 3, child.stderr.read() if child.poll() is not None else "too slow"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert out.strip() == "unet"  # stopped mid-phase, not crashed and not finished
    notes = (work / "notes.txt").read_text(encoding="utf-8")
    stopped = int(notes.split("stopped at unet step ")[-1].split()[0])
    assert stopped >= 3 and any((work / "checkpoints").iterdir())

    from studio_train.v2.config import Config

    two_more = Config.tiny_test().ae_steps + stopped + 2  # global step = autoencoder steps + unet step
    again = _start(work, str(two_more))
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    notes = (work / "notes.txt").read_text(encoding="utf-8")
    assert f"resumed at unet step {stopped}" in notes
    assert int(notes.split("stopped at unet step ")[-1].split()[0]) > stopped
