"""The shipped built-in model, studio-mini: a standard SD folder that works offline, by default."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from studio.core.paths import builtin_model_dir

MAX_BYTES = 40 * 1000 * 1000


def test_folder_is_complete_and_within_40_mb() -> None:
    folder = builtin_model_dir()
    for part in ("model_index.json", "MODEL_CARD.md", "latent_rgb.json", "unet", "vae", "text_encoder"):
        assert (folder / part).exists(), part
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= MAX_BYTES, f"{size / 1e6:.1f} MB"
    factors = json.loads((folder / "latent_rgb.json").read_text(encoding="utf-8"))
    assert np.asarray(factors["factors"]).shape == (4, 3) and len(factors["bias"]) == 3


def test_loads_offline_with_plain_diffusers() -> None:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(builtin_model_dir(), local_files_only=True)
    # Prompts are padded to the tokenizer's length: it must match the encoder's positions.
    assert pipe.tokenizer.model_max_length == pipe.text_encoder.config.max_position_embeddings
    assert pipe.unet.config.sample_size * pipe.vae_scale_factor == 64
    assert pipe.safety_checker is None


def _red_share(path) -> float:  # noqa: ANN001
    """Share of the saturated pixels whose hue is red (within 25 degrees)."""
    with Image.open(path) as im:
        hsv = np.asarray(im.convert("RGB").convert("HSV"), dtype=np.float32)
    hue, sat, val = hsv[..., 0] * 360 / 255, hsv[..., 1], hsv[..., 2]
    saturated = (sat > 80) & (val > 60)
    red = saturated & ((hue < 25) | (hue > 335))
    return float(red.sum()) / max(1, int(saturated.sum()))


@pytest.mark.xfail(
    strict=True,
    reason="issue 6 open: the shipped studio-mini draws an orange-red square for 'red apple' "
    "(see its MODEL_CARD); remove this mark when a retrained model passes",
)
def test_cli_default_model_draws_a_red_apple(tmp_path, capsys) -> None:
    from studio.cli import main

    out = tmp_path / "apple.png"
    argv = ["generate", "--prompt", "red apple", "--seed", "0", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    with Image.open(out) as im:
        assert im.size == (64, 64)
        assert "Model: Built-in (studio-mini)" in im.text["parameters"]
    assert _red_share(out) > 0.5
