"""studio-cli on hostile input (issue 11): exit 2 and one `error: ...` line, or a clear warning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli import build_parser, main, request_from_args
from tests.bad_files import bomb_png, png_16bit, png_with_studio_json


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_negative_threads_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["generate", "--prompt", "x", "--threads", "-3", "--out", str(tmp_path / "x.png")]
    assert main(argv) == 2
    assert _one_line_error(capsys) == "error: --threads must be 1 or more, not -3"
    assert not (tmp_path / "x.png").exists()


def test_info_on_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(tmp_path)]) == 2
    assert "is a folder; give an image (PNG) or a model file" in _one_line_error(capsys)


def test_info_on_a_png_from_a_newer_studio(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = json.dumps({"version": 7, "request": {"prompt": "a fox", "steps": 9, "new": {"a": 1}}})
    path = png_with_studio_json(tmp_path / "new.png", text)
    assert main(["info", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "a fox" and "steps: 9" in captured.out
    assert captured.err.strip() == (
        "warning: new.png was saved by a newer Studio (format 7); showing what this version can read"
    )


def test_info_on_a_decompression_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(bomb_png(tmp_path / "bomb.png"))]) == 2
    assert "bomb.png is too large to open safely (400 million pixels)" in _one_line_error(capsys)


def test_a_decompression_bomb_as_image_or_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bomb = bomb_png(tmp_path / "bomb.png")
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 64)).save(good)
    out = str(tmp_path / "x.png")
    assert main(["img2img", "--image", str(bomb), "--steps", "1", "--out", out]) == 2
    assert "too large to open safely" in _one_line_error(capsys)
    argv = ["inpaint", "--image", str(good), "--mask", str(bomb), "--steps", "1", "--out", out]
    assert main(argv) == 2
    assert "bomb.png is too large to open safely" in _one_line_error(capsys)
    assert not Path(out).exists()


def test_a_16bit_mask_and_image_are_scaled(tmp_path: Path) -> None:
    grey = png_16bit(tmp_path / "grey16.png", np.full((64, 64), 257 * 100))
    args = build_parser().parse_args(
        ["inpaint", "--image", str(grey), "--mask", str(grey), "--width", "64", "--height", "64"]
        + ["--out", str(tmp_path / "x.png")]
    )
    request = request_from_args(args)
    assert request.mask.mode == "L" and request.mask.getextrema() == (100, 100)
    assert request.init_image.mode == "RGB" and request.init_image.getextrema()[0] == (100, 100)
