"""A tiny Stable-Diffusion-architecture pipeline built from configs (random weights, real CLIP tokenizer).

Shapes are chosen so that a loader which infers a checkpoint's dimensions the way real SD
checkpoints need it (text head dim 64, SD1 UNet with 8 heads) rebuilds exactly the same model.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.paths import clip_tokenizer_dir

TINY_SIZE = 64  # pixels; latents are 8x8


def build_tiny_components(seed: int = 0, inpaint: bool = False) -> dict:
    import torch
    from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=TINY_SIZE // 8,
        in_channels=9 if inpaint else 4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=64,
        attention_head_dim=8,
        norm_num_groups=32,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=TINY_SIZE,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=1,
            max_position_embeddings=77,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
        )
    )
    tok_dir = clip_tokenizer_dir()
    tokenizer = CLIPTokenizer(
        vocab=str(tok_dir / "vocab.json"), merges=str(tok_dir / "merges.txt"), model_max_length=77
    )
    scheduler = DPMSolverMultistepScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
    )
    return {
        "unet": unet.eval(),
        "vae": vae.eval(),
        "text_encoder": text_encoder.eval(),
        "tokenizer": tokenizer,
        "scheduler": scheduler,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
    }


def build_tiny_pipeline(seed: int = 0, inpaint: bool = False):
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    cls = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe = cls(**build_tiny_components(seed, inpaint))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_diffusers(path: Path, seed: int = 0, inpaint: bool = False) -> Path:
    pipe = build_tiny_pipeline(seed, inpaint)
    pipe.save_pretrained(str(path), safe_serialization=True)
    return path
