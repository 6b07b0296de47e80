"""studio-cli end to end on the tiny model: PNGs with parameters, `info`, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.cli import main
from studio.core.metadata import read_png_metadata


@pytest.fixture(scope="module")
def tiny(tiny_dir) -> str:
    return str(tiny_dir)


def _fast(tiny: str) -> list[str]:
    return ["--model", tiny, "--steps", "3", "--width", "64", "--height", "64", "--threads", "1"]


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_generate_then_info_prints_the_same_parameters(tiny, tmp_path, capsys):
    out = tmp_path / "cat.png"
    args = ["generate", "--prompt", "a small cat", "--negative", "blurry", "--seed", "5", "--guidance", "4"]
    assert main([*args, "--scheduler", "Euler a", *_fast(tiny), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    with Image.open(out) as im:
        assert im.size == (64, 64)
        stored = im.text["parameters"]
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == stored.strip()
    lines = printed.splitlines()
    assert lines[0] == "a small cat" and lines[1] == "Negative prompt: blurry"
    for part in ("Steps: 3", "Sampler: Euler a", "CFG scale: 4", "Seed: 5", "Size: 64x64", "Model: tiny"):
        assert part in lines[-1]


def test_a_long_prompt_is_read_whole_without_a_warning_and_the_image_is_written(tiny, tmp_path, capsys):
    out = tmp_path / "long.png"
    prompt = " ".join(["apple"] * 95)
    assert main(["generate", "--prompt", prompt, "--seed", "5", *_fast(tiny), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(out)
    assert "warning" not in captured.err and "error" not in captured.err, captured.err  # 75-token windows
    with Image.open(out) as im:
        assert im.size == (64, 64)
        assert im.text["parameters"].startswith(prompt)  # the prompt as given, not cut


def test_batch_names_and_seeds(tiny, tmp_path, capsys):
    out = tmp_path / "many.png"
    assert (
        main(["generate", "--prompt", "x", "--seed", "9", "--batch", "2", *_fast(tiny), "--out", str(out)])
        == 0
    )
    paths = capsys.readouterr().out.split()
    assert paths == [str(tmp_path / "many-0001.png"), str(tmp_path / "many-0002.png")]
    seeds = []
    for p in paths:
        with Image.open(p) as im:
            seeds.append(im.text["parameters"].split("Seed: ")[1].split(",")[0])
    assert seeds == ["9", "10"]


def test_img2img_inpaint_outpaint(tiny, tmp_path, capsys):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    image.save(tmp_path / "in.png")
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rectangle((10, 10, 30, 30), fill=255)
    mask.save(tmp_path / "mask.png")
    common = ["--prompt", "p", "--seed", "1", "--model", tiny, "--steps", "2", "--threads", "1"]
    assert (
        main(["img2img", "--image", str(tmp_path / "in.png"), *common, "--out", str(tmp_path / "a.png")]) == 0
    )
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (64, 48)
    inpaint = ["inpaint", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png")]
    assert (
        main([*inpaint, "--area", "masked", "--feather", "0", *common, "--out", str(tmp_path / "b.png")]) == 0
    )
    with Image.open(tmp_path / "b.png") as im:
        result = np.asarray(im.convert("RGB"))
    keep = np.asarray(mask) == 0
    assert np.array_equal(result[keep], np.asarray(image)[keep])
    out = ["outpaint", "--image", str(tmp_path / "in.png"), "--right", "16", "--bottom", "8"]
    assert main([*out, *common, "--out", str(tmp_path / "c.png")]) == 0
    with Image.open(tmp_path / "c.png") as im:
        assert im.size == (80, 56)
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["generate", "--prompt", "x"], "--out"),
        (["generate", "--width", "65", "--height", "64", "--out", "x.png"], "multiple of 8"),
        (
            ["generate", "--scheduler", "Warp drive", "--width", "64", "--height", "64", "--out", "x.png"],
            "scheduler",
        ),
        (["generate", "--steps", "many", "--out", "x.png"], "invalid int"),
        (["generate", "--out", "x.jpg", "--width", "64", "--height", "64"], ".png"),
        (["img2img", "--image", "/nonexistent/in.png", "--out", "x.png"], "image not found"),
        (["bogus"], "invalid choice"),
    ],
)
def test_bad_input_is_a_one_line_error(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert needle in _one_line_error(capsys)


def test_missing_model_fails_with_one_line(tmp_path, capsys):
    argv = ["generate", "--model", str(tmp_path / "missing.safetensors"), "--width", "64", "--height", "64"]
    assert main([*argv, "--steps", "2", "--out", str(tmp_path / "x.png")]) == 1
    assert "not found" in _one_line_error(capsys).lower()
    assert not (tmp_path / "x.png").exists()


def test_info_without_parameters(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    assert main(["info", str(tmp_path / "plain.png")]) == 2
    assert "no generation parameters" in _one_line_error(capsys)
    assert main(["info", str(tmp_path / "absent.png")]) == 2
    _one_line_error(capsys)


def test_info_on_a_model_file(tmp_path, capsys):
    from tests.single_file import export_original_layout
    from tests.tiny_model import build_tiny_pipeline

    path = export_original_layout(build_tiny_pipeline(), tmp_path / "tiny.safetensors")
    assert main(["info", str(path)]) == 0
    assert capsys.readouterr().out.startswith("tiny.safetensors: ")
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 8)
    assert main(["info", str(tmp_path / "junk.safetensors")]) == 2
    _one_line_error(capsys)


def test_models_lists_a_folder(tiny, capsys):
    assert main(["models", "--dir", os.path.dirname(tiny)]) == 0
    assert any(line.split("\t")[2] == tiny for line in capsys.readouterr().out.splitlines())


def test_cli_entry_point_runs_without_torch_for_help():
    code = (
        "import sys; from studio.cli import main, build_parser; build_parser(); "
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = subprocess.run([sys.executable, "-m", "studio.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "generate" in result.stdout


def test_outpaint_infill_and_the_exact_overlap(tiny, tmp_path, capsys):
    """`--infill` picks the pre-fill (kept in the PNG's Studio JSON); `--overlap 4` with `--feather 8`
    changes the original at most 4 px deep (issue 12)."""
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    image.save(tmp_path / "in.png")
    argv = [
        "outpaint",
        "--image",
        str(tmp_path / "in.png"),
        "--left",
        "16",
        "--overlap",
        "4",
        "--feather",
        "8",
    ]
    common = ["--prompt", "p", "--seed", "1", "--model", tiny, "--steps", "2", "--threads", "1"]
    assert main([*argv, "--infill", "ns", *common, "--out", str(tmp_path / "wide.png")]) == 0
    with Image.open(tmp_path / "wide.png") as im:
        result = np.asarray(im.convert("RGB"))
        meta = read_png_metadata(im)
    assert result.shape == (48, 80, 3)
    assert np.array_equal(result[:, 16 + 4 :], np.asarray(image)[:, 4:])  # beyond the overlap: exact
    assert meta is not None and meta.studio is not None
    assert meta.studio["request"]["mask_options"]["infill"] == "ns"
    capsys.readouterr()
