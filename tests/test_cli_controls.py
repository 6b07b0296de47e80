"""studio-cli --control / --ip-adapter (issue 14): real runs through the installed command's module on
the tiny model with random-weight control models; bad specs end with exit code 2 and one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from studio.cli import EXIT_INPUT
from studio.cli_controls import ControlSpecError, parse_control
from studio.core.control import ControlKind, ControlMode
from studio.core.metadata import read_png_metadata
from tests.engine import control_files

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--threads", "1", "--seed", "3"]


@pytest.fixture(scope="module")
def controls(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-controls")
    sketch = folder / "sketch.png"
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((10, 10, 54, 54), outline="black", width=3)
    image.save(sketch)
    Image.new("RGB", (40, 40), (20, 150, 60)).save(folder / "ref.png")
    return {
        "cn": control_files.controlnet_folder(folder / "control_tiny_canny"),
        "ip": control_files.ip_adapter_file(folder / "ip" / "ip-adapter_tiny.safetensors"),
        "encoder": control_files.image_encoder_folder(folder / "ip" / "image_encoder"),
        "sketch": sketch,
        "ref": folder / "ref.png",
    }


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_LOG_DIR=str(tmp_path / "logs"), HF_HUB_OFFLINE="1")
    for var in ("CONFIG", "DATA", "OUTPUT", "MODELS"):
        env[f"STUDIO_{var}_DIR"] = str(tmp_path / "user" / var.lower())
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_a_controlnet_and_an_ip_adapter_from_the_command_line(tmp_path, tiny_dir, controls):
    out = tmp_path / "out.png"
    done = _cli(
        tmp_path,
        "generate", "--prompt", "a ring", "--model", str(tiny_dir), *FAST,
        "--control", f"canny:{controls['cn']}:{controls['sketch']}:0.8:0:0.5",
        "--ip-adapter", f"{controls['ip']}:{controls['ref']}:0.6",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    meta = read_png_metadata(out)
    assert meta is not None and meta.raw is not None
    assert meta.settings["ControlNet 0"].startswith("Module: canny, Model: control_tiny_canny, Weight: 0.8")
    assert (
        "Guidance End: 0.5" in meta.settings["ControlNet 0"]
        and "Studio Image: sketch.png" in meta.settings["ControlNet 0"]
    )
    assert (
        "Studio Type: ip_adapter" in meta.settings["ControlNet 1"]
        and "Weight: 0.6" in meta.settings["ControlNet 1"]
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("canny:{cn}", "write TYPE:MODEL:IMAGE"),
        ("hed:{cn}:{sketch}", "unknown TYPE 'hed'"),
        ("canny:{cn}:{tmp}/missing.png", "image not found"),
        ("canny:{tmp}/nope:{sketch}", "model not found"),
        ("canny:{cn}:{sketch}:heavy", "must be numbers"),
        ("canny:{cn}:{sketch}:1:0.8:0.2", "start (0.8) must come before end (0.2)"),
        ("canny:{cn}:{sketch}:5", "weight must be between 0 and 2"),
    ],
)
def test_bad_control_specs_exit_2_with_one_line(tmp_path, controls, spec, message):
    spec = spec.format(cn=controls["cn"], sketch=controls["sketch"], tmp=tmp_path)
    done = _cli(
        tmp_path, "generate", "--prompt", "x", *FAST, "--control", spec, "--out", str(tmp_path / "o.png")
    )
    assert done.returncode == EXIT_INPUT, done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr and done.stderr.count("\n") == 1, (
        done.stderr
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "o.png").exists()


def test_a_windows_drive_letter_is_part_of_the_path(tmp_path):
    opened = []

    def fake_open(path: Path, mode: str) -> Image.Image:
        opened.append(str(path))
        return Image.new(mode, (8, 8))

    with pytest.raises(ControlSpecError, match=r"model not found: C:\\models\\cn"):
        parse_control(r"t2i-canny:C:\models\cn:C:\pics\a.png:0.5", fake_open, ControlMode.BALANCED)
    unit_spec = f"t2i-canny:{tmp_path}:{tmp_path}"
    unit = parse_control(unit_spec, fake_open, ControlMode.PROMPT)
    assert (unit.kind, unit.preprocessor, unit.mode) == (
        ControlKind.T2I_ADAPTER,
        "canny",
        ControlMode.BALANCED,
    )
