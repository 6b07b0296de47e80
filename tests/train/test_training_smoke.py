"""Smoke test of the studio-mini training code: tiny dims, 8 emoji, a few steps (seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from studio_train.data import FONT_PATH  # a path only: importing works without the font

FONT_PACKAGE = "fonts-noto-color-emoji"
needs_font = pytest.mark.skipif(
    not FONT_PATH.exists(),
    reason=f"needs the Noto Color Emoji font ({FONT_PATH}): install the Debian/Ubuntu package "
    f"{FONT_PACKAGE} (sudo apt-get install {FONT_PACKAGE})",
)
needs_emoji = pytest.mark.skipif(
    importlib.util.find_spec("emoji") is None,
    reason="needs the emoji package of the train extra: pip install -e '.[train]'",
)


def test_gender_variants_are_left_out_but_neutral_forms_kept() -> None:
    from studio_train.data import is_gender_variant

    assert is_gender_variant("\U0001f468\u200d\U0001f680")  # man astronaut
    assert is_gender_variant("\U0001f3c3\u200d\u2640\ufe0f")  # woman running
    assert is_gender_variant("\U0001f468\u200d\U0001f469\u200d\U0001f466")  # family man woman boy
    assert not is_gender_variant("\U0001f9d1\u200d\U0001f680")  # astronaut (person)
    assert not is_gender_variant("\U0001f468")  # man, a single code point
    assert not is_gender_variant("\u2640\ufe0f")  # female sign on its own


@needs_font
@needs_emoji
def test_reduced_tokenizer_matches_full(tmp_path: Path) -> None:
    from studio.core.paths import clip_tokenizer_dir
    from studio_train.data import all_captions, list_emoji
    from studio_train.tokenizer import (
        load_clip_tokenizer,
        mismatches,
        write_reduced_tokenizer,
    )

    captions = all_captions(list_emoji()[:200])
    out = write_reduced_tokenizer(captions, clip_tokenizer_dir(), tmp_path / "tok")
    full = load_clip_tokenizer(clip_tokenizer_dir())
    reduced = load_clip_tokenizer(out)
    assert len(reduced) < 3000
    assert mismatches(captions, full, reduced) == []
    # An unseen word still tokenizes, falling back to smaller pieces.
    pieces = reduced.tokenize("xylophone zebra quokka")
    assert pieces and reduced.unk_token not in pieces
    assert "".join(pieces).replace("</w>", "") == "xylophonezebraquokka"
    ids = reduced("red apple", padding="max_length", max_length=77).input_ids
    assert len(ids) == 77 and ids[0] == reduced.bos_token_id


@needs_font
@needs_emoji
def test_training_smoke_saves_loadable_pipeline(tmp_path: Path) -> None:
    import json

    import torch
    from diffusers import StableDiffusionPipeline

    from studio_train.run import main

    out = tmp_path / "model"
    rc = main(
        [
            "--out", str(out), "--work", str(tmp_path / "work"), "--minutes", "1",
            "--tiny", "--limit", "8", "--threads", "1", "--max-steps", "3", "--device", "cpu",
        ]
    )  # fmt: skip
    assert rc == 0
    index = json.loads((out / "model_index.json").read_text())
    assert index["safety_checker"] == [None, None]
    assert index["requires_safety_checker"] is False
    factors = json.loads((out / "latent_rgb.json").read_text())
    assert len(factors["factors"]) == 4 and len(factors["bias"]) == 3
    assert (tmp_path / "work" / "loss.csv").read_text().count("\n") > 2
    assert (tmp_path / "work" / "samples.png").exists()

    pipe = StableDiffusionPipeline.from_pretrained(out, local_files_only=True)
    # The pipeline pads prompts to the tokenizer's length: it must be what the encoder was trained on.
    assert pipe.tokenizer.model_max_length == pipe.text_encoder.config.max_position_embeddings == 32
    assert pipe.unet.dtype == torch.float32 and pipe.text_encoder.dtype == torch.float32
    pipe.set_progress_bar_config(disable=True)
    image = pipe(
        "red apple", height=64, width=64, num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
    ).images[0]  # fmt: skip
    assert image.size == (64, 64)


def test_autoencoder_crops_stay_on_the_latent_grid() -> None:
    import torch

    from studio_train.autoencoder import random_crop

    x = torch.arange(2 * 3 * 64 * 64, dtype=torch.float32).view(2, 3, 64, 64)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        c = random_crop(x, 32, gen)
        assert c.shape == (2, 3, 32, 32)
        top, left = divmod(int(c[0, 0, 0, 0].item()), 64)
        assert top % 8 == 0 and left % 8 == 0 and top <= 32 and left <= 32


def test_chroma_term_sees_a_hue_change_that_keeps_brightness() -> None:
    import torch

    from studio_train.autoencoder import reconstruction_terms

    red = torch.tensor([0.8, -0.6, -0.6]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    green = torch.tensor([-0.6, 0.8, -0.6]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    _, _, chroma_same = reconstruction_terms(red, red)
    _, _, chroma_hue = reconstruction_terms(green, red)
    assert chroma_same.item() == 0.0
    assert chroma_hue.item() > 0.5
