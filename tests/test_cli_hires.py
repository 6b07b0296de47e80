"""studio-cli generate --hires: the image is base size x scale, its PNG records A1111's Hires fields
and reads back into the same options; bad values are one-line errors."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.cli import main
from studio.core.metadata import read_png_metadata, request_from_metadata
from studio.core.request import GenerationRequest, HiresOptions


def _fast(tiny_dir) -> list[str]:
    return ["--model", str(tiny_dir), "--steps", "3", "--width", "64", "--height", "48", "--threads", "1"]


def test_generate_with_hires_records_the_fields(tiny_dir, tmp_path, capsys):
    out = tmp_path / "hires.png"
    hires = ["--hires", "2", "--hires-upscaler", "Lanczos", "--hires-steps", "4", "--hires-denoise", "0.5"]
    assert (
        main(["generate", "--prompt", "a fox", "--seed", "3", *_fast(tiny_dir), *hires, "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.strip() == str(out)
    with Image.open(out) as im:
        assert im.size == (128, 96)
        text = im.text["parameters"]
    for part in (
        "Size: 64x48",
        "Denoising strength: 0.5",
        "Hires upscale: 2",
        "Hires steps: 4",
        "Hires upscaler: Lanczos",
    ):
        assert part in text
    meta = read_png_metadata(out)
    assert meta is not None
    for source in ("studio", "a1111"):
        if source == "a1111":
            meta.studio = None
        request = request_from_metadata(meta, GenerationRequest(), notes := [])
        assert request.hires == HiresOptions(True, 2.0, "Lanczos", 4, 0.5), (source, notes)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--hires", "6"], "Hires upscale must be between 1 and 4"),
        (["--hires", "2", "--hires-denoise", "0"], "the hires pass would run no step"),
        (["--hires", "2", "--hires-upscaler", "ESRGAN", "--upscaler-dir", "."], "'ESRGAN' was not found"),
        (["--hires", "two"], "invalid float"),
    ],
)
def test_bad_hires_values_are_one_line_errors(tiny_dir, argv, needle, tmp_path, capsys):
    assert main(["generate", *_fast(tiny_dir), *argv, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err
