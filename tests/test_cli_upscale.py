"""studio-cli upscale: a real run with a random ESRGAN (the PNG is scale x the input, alpha kept, its
parameters name the upscaler), Lanczos with a tiled refine on the tiny model, and bad input as
one-line errors with exit code 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.core.metadata import read_png_metadata, request_from_metadata
from studio.core.request import GenerationRequest
from tests.upscaler_files import esrgan_file


@pytest.fixture
def picture(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)
    pixels[:, :15, 3] = 255
    pixels[:, 15:, 3] = 0
    path = tmp_path / "in.png"
    Image.fromarray(pixels, "RGBA").save(path)
    return path


def test_upscale_with_a_model_upscaler_by_name(picture, tmp_path, capsys):
    esrgan_file(tmp_path / "ups" / "4x-Tiny.pth")
    out = tmp_path / "big.png"
    argv = [
        "upscale",
        str(picture),
        "--scale",
        "3",
        "--upscaler",
        "4x-Tiny",
        "--upscaler-dir",
        str(tmp_path / "ups"),
    ]
    assert main([*argv, "--threads", "1", "-o", str(out)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == str(out)
    before = Image.open(picture).copy()
    with Image.open(out) as im:
        assert im.size == (90, 60) and im.mode == "RGBA"
        assert im.getchannel("A").getpixel((10, 30)) == 255 and im.getchannel("A").getpixel((80, 30)) == 0
        text = im.text["parameters"]
    assert "Upscale: 3" in text and "Upscaler: 4x-Tiny" in text and "Size: 90x60" in text
    assert np.array_equal(np.asarray(Image.open(picture)), np.asarray(before))  # the input is untouched


def test_upscale_with_a_tiled_refine_on_a_model(picture, tiny_dir, tmp_path, capsys):
    out = tmp_path / "refined.png"
    argv = [
        "upscale",
        str(picture),
        "--scale",
        "4",
        "--refine",
        "0.5",
        "--prompt",
        "a fox",
        "--model",
        str(tiny_dir),
    ]
    argv += [
        "--steps",
        "2",
        "--tile",
        "64",
        "--overlap",
        "16",
        "--seed",
        "1",
        "--threads",
        "1",
        "-o",
        str(out),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    with Image.open(out) as im:
        assert im.size == (120, 80) and im.mode == "RGBA"
        text = im.text["parameters"]
    assert "Denoising strength: 0.5" in text and "Tile size: 64" in text and "Upscaler: Lanczos" in text
    meta = read_png_metadata(out)
    assert meta is not None
    reused = request_from_metadata(meta, GenerationRequest(), [])
    assert reused.prompt == "a fox" and not reused.upscale.enabled  # the job's upscale is not a setting


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--scale", "9"], "The upscale factor must be between 1 and 8"),
        (["--upscaler", "4x-Nothing", "--upscaler-dir", "."], "'4x-Nothing' was not found"),
        (["--upscaler", "Latent"], "Unknown upscaler 'Latent'"),
        (["--refine", "0.5", "--steps", "1"], "no refine step would run"),
        (["--tile", "32"], "Tile size must be between 64 and 2048"),
        (["--upscaler-dir", "/no/such/folder"], "no such folder"),
    ],
)
def test_bad_upscale_values_are_one_line_errors(picture, argv, needle, tmp_path, capsys):
    assert main(["upscale", str(picture), *argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err


def test_a_file_that_is_not_an_upscaler_or_an_image(picture, tmp_path, capsys):
    fake = tmp_path / "fake.pth"
    fake.write_bytes(b"not weights")
    assert main(["upscale", str(picture), "--upscaler", str(fake), "-o", str(tmp_path / "x.png")]) == 1
    assert "fake.pth could not be read" in capsys.readouterr().err
    text = tmp_path / "notes.png"
    text.write_text("hello")
    assert main(["upscale", str(text), "-o", str(tmp_path / "y.png")]) == 2
    assert "cannot open image" in capsys.readouterr().err
