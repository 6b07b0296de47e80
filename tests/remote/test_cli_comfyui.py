"""studio-cli against a REAL ComfyUI (marked `comfyui`: env STUDIO_COMFYUI, tests/remote/comfy_server.py):
`models --server URL` lists its checkpoints, and generate / img2img / inpaint / outpaint with
`--server URL --model NAME` save PNGs with Studio's metadata, like a local run (the process is the
installed entry point, `python -m studio.cli`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.metadata import read_png_metadata
from tests.launch import ROOT, app_env
from tests.remote.comfy_server import CHECKPOINT

pytestmark = pytest.mark.comfyui
RUN_TIMEOUT = 600


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *args],
        env=app_env(tmp_path / "user", HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=ROOT,
    )


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    image = Image.new("RGB", (64, 64), (30, 90, 160))
    ImageDraw.Draw(image).ellipse((16, 16, 48, 48), fill=(240, 200, 40))
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((24, 24, 40, 40), fill=255)
    image.save(tmp_path / "in.png")
    mask.save(tmp_path / "mask.png")
    return tmp_path / "in.png", tmp_path / "mask.png"


def test_models_lists_the_servers_checkpoints(comfy_url: str, tmp_path: Path) -> None:
    done = _cli(tmp_path, "models", "--server", comfy_url)
    assert done.returncode == 0, done.stderr
    assert CHECKPOINT in done.stdout.splitlines()


MODES = {
    "generate": (["--width", "64", "--height", "64"], (64, 64)),
    "img2img": (["--image", "{image}", "--strength", "0.6"], (64, 64)),
    "inpaint": (["--image", "{image}", "--mask", "{mask}", "--width", "64", "--height", "64"], (64, 64)),
    "outpaint": (["--image", "{image}", "--right", "32", "--width", "96", "--height", "64"], (96, 64)),
}


@pytest.mark.parametrize("command", list(MODES))
def test_each_mode_runs_on_the_server(command: str, comfy_url: str, tmp_path: Path) -> None:
    image, mask = _inputs(tmp_path)
    extra, size = MODES[command]
    extra = [a.format(image=image, mask=mask) for a in extra]
    out = tmp_path / "out.png"
    done = _cli(
        tmp_path,
        command,
        *extra,
        *("--server", comfy_url, "--model", CHECKPOINT),
        *("--prompt", "a lighthouse at dusk", "--steps", "2", "--seed", "11", "--out", str(out)),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    result = Image.open(out)
    assert result.size == size
    meta = read_png_metadata(out)
    assert meta is not None
    assert meta.raw.startswith("a lighthouse at dusk\n")
    for field in ("Steps: 2", "Seed: 11", f"Size: {size[0]}x{size[1]}", "Model: sd15-small-random"):
        assert field in meta.raw, meta.raw
    if command == "inpaint":  # beyond the feathered mask the input is untouched
        before, after = np.asarray(Image.open(image)), np.asarray(result.convert("RGB"))
        assert np.array_equal(before[:10], after[:10]) and np.array_equal(before[:, :10], after[:, :10])
        assert not np.array_equal(before[24:40, 24:40], after[24:40, 24:40])
