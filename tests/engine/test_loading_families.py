"""SD 2.x and SDXL single files: tiny pipelines in those layouts round-trip through the loader
(dimensions inferred from shapes, family and prediction type detected), offline."""

from __future__ import annotations

import pytest
import torch

from studio.core.paths import clip_tokenizer_dir
from studio.engine.loading import ModelLoadError, load_pipeline
from tests.single_file import export_original_layout, original_state_dict

IDS = {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}  # as in the shipped configs
# Explicit values: a pipeline patches an outdated scheduler config (steps_offset, clip_sample), but
# `from_config` re-applies the defaults listed in `_use_default_values`, so copies would differ.
SCHED = {
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "steps_offset": 1,
    "clip_sample": False,
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    torch.set_num_threads(1)


def _tokenizer(pad: str):
    from transformers import CLIPTokenizer

    d = clip_tokenizer_dir()
    return CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"), pad_token=pad, model_max_length=77)


def _text(hidden: int, act: str, projection: int | None = None):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        vocab_size=49408, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=max(1, hidden // 64), max_position_embeddings=77, hidden_act=act,
        projection_dim=projection or hidden, **IDS,
    )  # fmt: skip
    return (CLIPTextModelWithProjection(cfg) if projection else CLIPTextModel(cfg)).eval()


def _vae(scaling: float):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(32, 32, 32, 32), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=1, norm_num_groups=32,
        sample_size=64, scaling_factor=scaling,
    ).eval()  # fmt: skip


def _unet(**kw):
    from diffusers import UNet2DConditionModel

    base = {"sample_size": 8, "out_channels": 4, "block_out_channels": (32, 64), "layers_per_block": 1,
            "attention_head_dim": [1, 1], "use_linear_projection": True, "norm_num_groups": 32}  # fmt: skip
    return UNet2DConditionModel(**{**base, **kw}).eval()


def tiny_sd2(inpaint: bool = False):
    from diffusers import DDIMScheduler, StableDiffusionInpaintPipeline, StableDiffusionPipeline

    torch.manual_seed(0)
    unet = _unet(
        in_channels=9 if inpaint else 4, cross_attention_dim=64, upcast_attention=not inpaint,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )  # fmt: skip
    cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    return cls(
        unet=unet, vae=_vae(0.18215), text_encoder=_text(64, "gelu"), tokenizer=_tokenizer("!"),
        scheduler=DDIMScheduler(**SCHED),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip


def tiny_sdxl():
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline

    torch.manual_seed(0)
    unet = _unet(
        in_channels=4, cross_attention_dim=128, transformer_layers_per_block=[1, 2],
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=32 + 6 * 8,
    )  # fmt: skip
    return StableDiffusionXLPipeline(
        unet=unet, vae=_vae(0.13025), text_encoder=_text(64, "quick_gelu"),
        text_encoder_2=_text(64, "gelu", projection=32), tokenizer=_tokenizer("<|endoftext|>"),
        tokenizer_2=_tokenizer("!"),
        scheduler=EulerDiscreteScheduler(**{k: v for k, v in SCHED.items() if k != "clip_sample"}),
    )  # fmt: skip


def _same_images(original, loaded) -> float:
    loaded.scheduler = type(original.scheduler).from_config(original.scheduler.config)
    original.set_progress_bar_config(disable=True)
    kw = {"num_inference_steps": 2, "height": 64, "width": 64, "output_type": "np"}
    a = original("a castle", generator=torch.Generator().manual_seed(5), **kw).images
    b = loaded("a castle", generator=torch.Generator().manual_seed(5), **kw).images
    return float(abs(a - b).max())


def test_sd2_single_file_is_v_prediction_and_matches(tmp_path):
    original = tiny_sd2()
    path = export_original_layout(original, tmp_path / "sd2.safetensors", family="sd2")
    model = load_pipeline(str(path), device="cpu", dtype=torch.float32)
    assert (model.family, model.inpaint) == ("sd2", False)
    assert model.pipe.scheduler.config.prediction_type == "v_prediction"  # as diffusers infers for SD 2.x
    assert model.pipe.tokenizer.pad_token == "!"
    assert model.pipe.text_encoder.config.num_hidden_layers == 2  # the unused last block is dropped
    assert _same_images(original, model.pipe) < 1e-4


def test_sd2_base_ckpt_by_global_step_is_epsilon(tmp_path):
    state = original_state_dict(tiny_sd2(), family="sd2")
    torch.save({"state_dict": state, "global_step": 875000}, str(tmp_path / "sd2-base.ckpt"))
    model = load_pipeline(str(tmp_path / "sd2-base.ckpt"), device="cpu", dtype=torch.float32)
    assert model.pipe.scheduler.config.prediction_type == "epsilon"
    assert model.pipe.unet.config.sample_size == 64  # 512 px base model


def test_sd2_inpaint_single_file(tmp_path):
    path = export_original_layout(tiny_sd2(inpaint=True), tmp_path / "sd2-inpaint.safetensors", family="sd2")
    model = load_pipeline(str(path), device="cpu", dtype=torch.float32)
    assert (model.family, model.inpaint) == ("sd2", True)
    assert type(model.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert model.pipe.scheduler.config.prediction_type == "epsilon"


def test_sdxl_single_file_matches(tmp_path):
    original = tiny_sdxl()
    path = export_original_layout(original, tmp_path / "xl.safetensors")
    model = load_pipeline(str(path), device="cpu", dtype=torch.float32)
    assert (model.family, model.inpaint) == ("sdxl", False)
    assert type(model.pipe).__name__ == "StableDiffusionXLPipeline"
    assert model.pipe.unet.config.transformer_layers_per_block == [1, 2]
    assert model.pipe.unet.config.addition_time_embed_dim == 8
    assert model.pipe.tokenizer_2.pad_token == "!"
    assert _same_images(original, model.pipe) < 1e-4


def test_sdxl_v_pred_marker(tmp_path):
    from safetensors.torch import save_file

    state = original_state_dict(tiny_sdxl())
    state["v_pred"] = torch.tensor([])
    save_file(state, str(tmp_path / "xl-v.safetensors"))
    model = load_pipeline(str(tmp_path / "xl-v.safetensors"), device="cpu", dtype=torch.float32)
    assert model.pipe.scheduler.config.prediction_type == "v_prediction"


def test_sdxl_refiner_is_refused(tmp_path):
    from safetensors.torch import save_file

    state = {
        k.replace("conditioner.embedders.1.", "conditioner.embedders.0."): v
        for k, v in original_state_dict(tiny_sdxl()).items()
        if not k.startswith("conditioner.embedders.0.")
    }
    save_file(state, str(tmp_path / "refiner.safetensors"))
    with pytest.raises(ModelLoadError, match="SDXL refiner"):
        load_pipeline(str(tmp_path / "refiner.safetensors"), device="cpu", dtype=torch.float32)


def test_half_precision_load(tmp_path):
    path = export_original_layout(tiny_sdxl(), tmp_path / "xl.safetensors")
    model = load_pipeline(str(path), device="cpu", dtype=torch.bfloat16)
    assert model.pipe.unet.dtype == torch.bfloat16 and model.pipe.text_encoder_2.dtype == torch.bfloat16
