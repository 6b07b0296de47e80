"""Random-weight Stable Diffusion architectures for the benchmarks (no downloads).

SD1.5 and SDXL shapes come from the configs shipped in ``resources/configs/`` when they are there
(a diffusers-layout folder with ``unet/config.json``, ``vae/config.json``, ``text_encoder/config.json``),
else from the well-known values written below. Weights are random: speed does not depend on them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from _common import CACHE_DIR, REPO

SD15_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
SDXL_UNET: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [320, 640, 1280],
    "layers_per_block": 2,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "transformer_layers_per_block": [1, 2, 10],
    "attention_head_dim": [5, 10, 20],
    "cross_attention_dim": 2048,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}
SD_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 512,
    "scaling_factor": 0.18215,
}
CLIP_L: dict[str, Any] = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "projection_dim": 768,
    "hidden_act": "quick_gelu",
}
CLIP_BIG_G: dict[str, Any] = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "projection_dim": 1280,
    "hidden_act": "gelu",
}
SCHEDULER: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
}


def shipped_config(family: str, part: str) -> dict[str, Any] | None:
    """A component config from ``resources/configs/<folder>/<part>/config.json`` for ``family``."""
    root = REPO / "resources" / "configs"
    if not root.is_dir():
        return None
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        cfg_path = folder / part / "config.json"
        unet_path = folder / "unet" / "config.json"
        if not (cfg_path.is_file() and unet_path.is_file()):
            continue
        try:
            unet = json.loads(unet_path.read_text("utf-8"))
            cfg = json.loads(cfg_path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if _family_of(unet) == family and unet.get("in_channels", 4) == 4:
            return {k: v for k, v in cfg.items() if not k.startswith("_")}
    return None


def _family_of(unet_cfg: dict[str, Any]) -> str:
    if unet_cfg.get("addition_embed_type") == "text_time":
        return "sdxl"
    return "sd2" if unet_cfg.get("cross_attention_dim") == 1024 else "sd1"


def _tokenizer() -> Any:
    from transformers import CLIPTokenizer

    from studio.core.paths import clip_tokenizer_dir

    tok = clip_tokenizer_dir()
    return CLIPTokenizer(vocab=str(tok / "vocab.json"), merges=str(tok / "merges.txt"), model_max_length=77)


def _text_config(values: dict[str, Any]) -> Any:
    from transformers import CLIPTextConfig

    base = {"vocab_size": 49408, "max_position_embeddings": 77, "bos_token_id": 49406}
    return CLIPTextConfig(**{**base, "eos_token_id": 49407, "pad_token_id": 49407, **values})


def _scheduler() -> Any:
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(**SCHEDULER)


def sd15_pipeline(dtype: Any, device: str = "cpu", seed: int = 0) -> Any:
    """An SD1.5-architecture StableDiffusionPipeline with random weights (860M UNet, 84M VAE, 123M CLIP)."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(shipped_config("sd1", "unet") or SD15_UNET)
        vae = AutoencoderKL.from_config(shipped_config("sd1", "vae") or SD_VAE)
        text = CLIPTextModel(_text_config(CLIP_L))
    pipe = StableDiffusionPipeline(
        unet=unet.eval(),
        vae=vae.eval(),
        text_encoder=text.eval(),
        tokenizer=_tokenizer(),
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sdxl_pipeline(dtype: Any, device: str = "cpu", seed: int = 0) -> Any:
    """An SDXL-architecture pipeline with random weights (2.6B UNet, CLIP-L + bigG text encoders)."""
    import torch
    from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel.from_config(shipped_config("sdxl", "unet") or SDXL_UNET)
        xl_vae = {**SD_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True}
        vae = AutoencoderKL.from_config(shipped_config("sdxl", "vae") or xl_vae)
        text = CLIPTextModel(_text_config(CLIP_L))
        text_2 = CLIPTextModelWithProjection(_text_config(CLIP_BIG_G))
    pipe = StableDiffusionXLPipeline(
        unet=unet.eval(),
        vae=vae.eval(),
        text_encoder=text.eval(),
        text_encoder_2=text_2.eval(),
        tokenizer=_tokenizer(),
        tokenizer_2=_tokenizer(),
        scheduler=_scheduler(),
        force_zeros_for_empty_prompt=True,
    )
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sd15_folder() -> Path:
    """SD1.5-architecture random weights saved once as a diffusers folder (fp32 safetensors, ~4.3 GB)."""
    import torch

    folder = CACHE_DIR / "sd15-random"
    if (folder / "model_index.json").is_file():
        return folder
    t0 = time.perf_counter()
    print(f"(building random SD1.5 weights into {folder} once; later runs reuse them)", flush=True)
    pipe = sd15_pipeline(torch.float32)
    tmp = folder.with_name(folder.name + ".partial")
    pipe.save_pretrained(str(tmp), safe_serialization=True)
    tmp.rename(folder)
    print(f"(saved in {time.perf_counter() - t0:.0f} s)", flush=True)
    return folder


def param_count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())
