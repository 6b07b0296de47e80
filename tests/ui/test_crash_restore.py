"""Nothing lost, through the real app: edit in the canvas, kill -9, relaunch, the work is offered back.

The first run opens a photo (`studio FILE`) and makes one edit (STUDIO_TEST_EDIT=1: a box masked and
painted red) that the canvas autosaves with its own timer. While it runs, a second instance must not
take its autosave; after SIGKILL, a relaunch answering the "Restore unsaved work" dialog with
restore (STUDIO_RESTORE_ANSWER) reports the restored document in its smoke JSON."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.app import TEST_EDIT_BOX
from tests.launch import app_command, app_env, smoke_run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def _smoke(tmp_path: Path, answer: str) -> dict[str, object]:
    done, reports = smoke_run(
        tmp_path, env=app_env(tmp_path, STUDIO_TORCH_THREADS="1", STUDIO_RESTORE_ANSWER=answer)
    )
    assert "Traceback" not in done.stderr, done.stderr
    return reports[-1]


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _wait_for_autosave(autosave: Path, proc: subprocess.Popen[str], timeout: float = 90.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the first run ended by itself"
        states = list(autosave.glob("canvas-*/state.json"))
        if states:
            return states[0]
        time.sleep(0.2)
    raise AssertionError("no autosave appeared")


def test_work_killed_mid_edit_is_restored_at_the_next_start(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (40, 96, 3), dtype=np.uint8)).save(photo)
    x0, y0, x1, y1 = TEST_EDIT_BOX
    image = np.asarray(Image.open(photo).convert("RGB")).copy()
    image[y0:y1, x0:x1] = (255, 0, 0)
    mask = np.zeros((40, 96), np.uint8)
    mask[y0:y1, x0:x1] = 255
    paint = np.zeros((40, 96, 4), np.uint8)  # premultiplied BGRA: blue at alpha 128
    paint[y0:y1, x0:x1] = (128, 0, 0, 128)

    first = subprocess.Popen(
        app_command("--no-preload", photo),
        env=app_env(tmp_path, STUDIO_TORCH_THREADS="1", STUDIO_TEST_EDIT="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        state = _wait_for_autosave(tmp_path / "data" / "autosave", first)
        saved = json.loads(state.read_text())
        assert saved["size"] == [96, 40] and saved["source"] == str(photo)

        # a second instance while the first still runs: offered nothing, takes nothing
        live = _smoke(tmp_path, "restore")
        assert live["canvas_size"] == [1024, 1024] and live["canvas_dirty"] is False
        assert state.is_file() and json.loads(state.read_text())["counter"] == saved["counter"]
        assert not list(state.parent.glob("state.json.broken-*"))
    finally:
        first.send_signal(signal.SIGKILL)  # mid-edit: no clean-up code runs
        _, err = first.communicate(timeout=30)
    assert "Traceback" not in err, err

    restored = _smoke(tmp_path, "restore")
    assert restored["canvas_size"] == [96, 40] and restored["canvas_path"] == str(photo)
    assert restored["canvas_image_sha256"] == _sha(image)
    assert restored["canvas_mask_sha256"] == _sha(mask)
    assert restored["canvas_dirty"] is True  # restored work is not saved anywhere else yet
    assert restored["canvas_autosave"] == str(state.parent)  # it keeps autosaving there
    layers = restored["canvas_layers"]
    assert [row[:3] for row in layers] == [  # every layer back: names, visibility, opacity, pixels
        ["Image", True, 1.0],
        ["Test paint", False, 1.0],
        ["Result 1", True, 1.0],
    ]
    assert layers[1][3] == _sha(paint)

    later = _smoke(tmp_path, "later")  # the smoke run quit without closing: still offered
    assert later["canvas_size"] == [1024, 1024] and state.is_file()
    dead = 2**22 + 12345  # above Linux's pid_max: no such process
    litter = [
        tmp_path / "output" / f".a.png.{dead}-0bad.tmp",
        tmp_path / "config" / f".settings.json.{dead}-0bad.tmp",
    ]
    for path in litter:
        path.write_bytes(b"half")
    discarded = _smoke(tmp_path, "discard")
    assert not any(path.exists() for path in litter)  # a killed process's temp files go at start-up
    assert discarded["canvas_size"] == [1024, 1024]
    assert not state.parent.exists()
    assert _smoke(tmp_path, "restore")["canvas_size"] == [1024, 1024]  # nothing left to offer
