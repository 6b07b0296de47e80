"""The shipped configs are the real SD 1.5 / 2.1 / SDXL architectures, and a full-size checkpoint's
shapes (made on the meta device: no memory, no weights) are detected and mapped back to them."""

from __future__ import annotations

import functools
from pathlib import Path
from types import SimpleNamespace

import pytest

from studio.engine.loading.checkpoint import CheckpointFile
from studio.engine.loading.detect import detect
from studio.engine.loading.infer import read_config, text_configs, unet_config, vae_config
from tests.single_file import original_state_dict

# name -> (UNet, VAE, text encoder, second text encoder) parameters in millions, as published.
SIZES = {
    "sd15": (859.5, 83.7, 123.1, None),
    "sd15-inpaint": (859.5, 83.7, 123.1, None),
    "sd21": (865.9, 83.7, 340.4, None),
    "sd21-base": (865.9, 83.7, 340.4, None),
    "sd2-inpaint": (865.9, 83.7, 340.4, None),
    "sdxl-base": (2567.5, 83.7, 123.1, 694.7),
    "sdxl-inpaint": (2567.5, 83.7, 123.1, 694.7),
}
# name -> (family, inpaint, diffusers' own model type for the same keys)
EXPECTED = {
    "sd15": ("sd1", False, "v1"),
    "sd15-inpaint": ("sd1", True, "inpainting"),
    "sd21": ("sd2", False, "v2"),
    "sd2-inpaint": ("sd2", True, "inpainting_v2"),
    "sdxl-base": ("sdxl", False, "xl_base"),
    "sdxl-inpaint": ("sdxl", True, "xl_inpaint"),
}


@functools.cache
def _meta_pipe(name: str) -> SimpleNamespace:
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    def text(component: str):
        cfg = read_config(name, component)
        cls = (
            CLIPTextModelWithProjection
            if "CLIPTextModelWithProjection" in cfg["architectures"]
            else CLIPTextModel
        )
        return cls(
            CLIPTextConfig(**{k: v for k, v in cfg.items() if k not in ("architectures", "model_type")})
        )

    with init_empty_weights():
        return SimpleNamespace(
            unet=UNet2DConditionModel.from_config(read_config(name, "unet")),
            vae=AutoencoderKL.from_config(read_config(name, "vae")),
            text_encoder=text("text_encoder"),
            text_encoder_2=text("text_encoder_2") if name.startswith("sdxl") else None,
        )


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def _millions(module) -> float:
    return round(sum(p.numel() for p in module.parameters()) / 1e6, 1)


@pytest.mark.parametrize("name", sorted(SIZES))
def test_shipped_configs_are_the_published_architectures(name):
    pipe = _meta_pipe(name)
    parts = (pipe.unet, pipe.vae, pipe.text_encoder, pipe.text_encoder_2)
    got = tuple(_millions(m) if m is not None else None for m in parts)
    assert got == pytest.approx(SIZES[name], abs=0.1)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_full_size_layout_is_detected_and_inferred_back(name):
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    pipe = _meta_pipe(name)
    state = original_state_dict(pipe, family="sd2" if name.startswith("sd2") else "sd1")
    family, inpaint, diffusers_type = EXPECTED[name]
    assert infer_diffusers_model_type(state) == diffusers_type  # our export is the real key layout
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    info = detect(CheckpointFile(path=Path(f"/nonexistent/{name}.safetensors"), shapes=shapes))
    assert (info.family, info.inpaint, info.config_name) == (family, inpaint, name)
    texts = text_configs(info, shapes)
    for component, cfg in texts.items():
        shipped = read_config(name, component)
        for key in (
            "hidden_size",
            "num_hidden_layers",
            "intermediate_size",
            "num_attention_heads",
            "vocab_size",
        ):
            assert cfg[key] == shipped[key], (component, key)
    unet = unet_config(info, shapes, texts.get("text_encoder_2", {}).get("projection_dim"))
    shipped_unet = read_config(name, "unet")
    defaults = {"use_linear_projection": False}
    for key in ("in_channels", "block_out_channels", "layers_per_block", "down_block_types", "up_block_types",
                "cross_attention_dim", "attention_head_dim", "use_linear_projection"):  # fmt: skip
        assert _plain(unet[key]) == _plain(shipped_unet.get(key, defaults.get(key))), key
    if name.startswith("sdxl"):
        assert unet["transformer_layers_per_block"] == [1, 2, 10]
        assert (unet["projection_class_embeddings_input_dim"], unet["addition_time_embed_dim"]) == (2816, 256)
    vae = vae_config(info, shapes)
    assert (vae["block_out_channels"], vae["layers_per_block"]) == ([128, 256, 512, 512], 2)


def test_sd2_prediction_default_follows_diffusers():
    shapes = {k: tuple(v.shape) for k, v in original_state_dict(_meta_pipe("sd21"), family="sd2").items()}
    ckpt = CheckpointFile(path=Path("/nonexistent/x.safetensors"), shapes=shapes)
    assert detect(ckpt).prediction_type == "v_prediction"
    ckpt.global_step = 875000
    assert (detect(ckpt).prediction_type, detect(ckpt).config_name) == ("epsilon", "sd21-base")
    ckpt.global_step, ckpt.metadata = None, {"modelspec.prediction_type": "epsilon"}
    assert detect(ckpt).prediction_type == "epsilon"
