"""studio-cli with SD3 / Flux (tiny random models): a Flux folder generates a PNG whose parameters
say what ran, an SD sampler falls back with a warning, `info` names a GGUF transformer file."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.cli import main
from tests.dit_models import build_tiny_flux, save_tiny_flux, save_transformer_gguf


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return save_tiny_flux(tmp_path_factory.mktemp("cli-dit") / "tiny-flux")


def test_generate_with_flux_warns_about_the_sampler_and_records_euler(flux_dir, tmp_path, capsys):
    out = tmp_path / "flux.png"
    args = ["generate", "--prompt", "a (red:1.2) cat", "--seed", "3", "--model", str(flux_dir)]
    args += ["--steps", "2", "--width", "64", "--height", "64", "--threads", "1", "--guidance", "3.5"]
    assert main([*args, "--scheduler", "DPM++ 2M Karras", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert 'warning: The "DPM++ 2M Karras" sampler' in err and "flow-matching" in err
    assert "plain text" in err
    with Image.open(out) as image:
        assert image.size == (64, 64)
        parameters = image.text["parameters"]
    assert "Sampler: Euler," in parameters and "Steps: 2" in parameters and "Model: tiny-flux" in parameters


def test_info_on_a_gguf_transformer(tmp_path, capsys):
    path = save_transformer_gguf(build_tiny_flux(dev=False).transformer, tmp_path / "flux1-schnell-Q8_0.gguf")
    assert main(["info", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "flux1-schnell-Q8_0.gguf: Flux schnell (transformer only)"


def test_a_gguf_transformer_with_its_folder_hires_fix_and_a_lora(tmp_path, capsys):
    from tests.dit_models import save_flux_lora

    models = tmp_path / "models"
    save_tiny_flux(models / "FLUX.1-dev")
    gguf = save_transformer_gguf(build_tiny_flux(seed=2).transformer, models / "flux1-dev-Q8_0.gguf")
    common = ["--prompt", "a cat", "--seed", "1", "--steps", "2", "--width", "64", "--height", "64"]
    common += ["--threads", "1", "--guidance", "3.5", "--scheduler", "Euler"]
    out = tmp_path / "big.png"
    hires = ["--hires", "2", "--hires-upscaler", "Latent", "--hires-steps", "2", "--hires-denoise", "0.5"]
    assert main(["generate", *common, "--model", str(gguf), *hires, "--out", str(out)]) == 0
    assert "Lanczos instead of 'Latent'" in capsys.readouterr().err
    with Image.open(out) as image:
        assert image.size == (128, 128)
        assert "Hires upscaler: Lanczos" in image.text["parameters"]
    lora = save_flux_lora(tmp_path / "loras")
    edited = tmp_path / "edited.png"
    img2img = [
        "img2img",
        "--image",
        str(out),
        "--strength",
        "0.6",
        *common,
        "--model",
        str(models / "FLUX.1-dev"),
    ]
    assert main([*img2img, "--lora", str(lora), "--out", str(edited)]) == 0
    with Image.open(edited) as image:
        assert "Lora hashes" in image.text["parameters"]
