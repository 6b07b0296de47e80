"""Killing Studio while it saves results never leaves a broken file under a final name.

A subprocess saves results through the real `save_finished` in a loop and is SIGKILLed at random
moments; afterwards every *.png in the folder must open and verify with Pillow, and the temp files
the kills left are removed by the start-up clean-up (`clean_stale_temps`)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.core.fileio import clean_stale_temps

ROOT = Path(__file__).resolve().parents[2]
KILLS = 24

_SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from PIL import Image
    from studio.core.events import Finished
    from studio.core.request import GenerationRequest
    from studio.ui.results import save_finished

    rng = np.random.default_rng(int(sys.argv[2]))
    images = [Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)) for _ in range(3)]
    event = Finished(1, images, [7, 8, 9], GenerationRequest(prompt="kill test"), 0.1)
    print("ready", flush=True)
    while True:
        save_finished(event, __import__("pathlib").Path(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_random_kills_while_saving_leave_no_broken_png(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = random.Random(11)
    for round_ in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(folder), str(round_)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) >= KILLS // 2  # the saver got to write between the kills
    broken = []
    for path in pngs:
        try:
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                im.load()
        except Exception as exc:  # noqa: BLE001 - any failure to read is a broken file
            broken.append(f"{path.name}: {exc}")
    assert broken == []
    leftovers = [p for p in folder.iterdir() if p.suffix == ".tmp"]
    assert clean_stale_temps(folder) == len(leftovers)
    assert [p for p in folder.iterdir() if p.suffix != ".png"] == []
