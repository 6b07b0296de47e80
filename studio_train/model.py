"""Standard diffusers / transformers components of studio-mini, built from configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEDULER_KW: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "steps_offset": 1,
}


@dataclass(frozen=True)
class Dims:
    """Model sizes; `tiny()` is for smoke tests."""

    image_size: int = 64
    ae_channels: tuple[int, ...] = (16, 32, 64, 128)
    unet_channels: tuple[int, ...] = (64, 128, 192)
    unet_layers: int = 2
    text_hidden: int = 256
    text_layers: int = 3
    text_heads: int = 4
    # Token positions of the text encoder and tokenizer. The longest caption is 22 tokens;
    # 32 instead of CLIP's 77 makes the text encoder and cross-attention ~2.4x cheaper.
    text_positions: int = 32
    # Also feed the attention-pooled text to the time embedding (diffusers' standard
    # addition_embed_type="text"): every ResNet block then sees the caption, not only the
    # cross-attention layers. Meant to speed up learning what to draw; not yet measured
    # against a run without it (see the model card).
    unet_pooled_text: bool = True

    @classmethod
    def tiny(cls) -> Dims:
        return cls(
            ae_channels=(8, 8, 16, 16),
            unet_channels=(32, 32, 32),
            unet_layers=1,
            text_hidden=32,
            text_layers=1,
            text_heads=2,
        )


def build_autoencoder(d: Dims):  # noqa: ANN201
    from diffusers import AutoencoderKL

    n = len(d.ae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=d.ae_channels,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=min(32, min(d.ae_channels)),
        sample_size=d.image_size,
    )


def build_text_encoder(d: Dims, vocab_size: int, bos_id: int, eos_id: int):  # noqa: ANN201
    from transformers import CLIPTextConfig, CLIPTextModel

    config = CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=d.text_hidden,
        intermediate_size=d.text_hidden * 4,
        num_hidden_layers=d.text_layers,
        num_attention_heads=d.text_heads,
        max_position_embeddings=d.text_positions,
        projection_dim=d.text_hidden,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    return CLIPTextModel(config)


def build_unet(d: Dims):  # noqa: ANN201
    from diffusers import UNet2DConditionModel

    n = len(d.unet_channels)
    down = ("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",)
    up = ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1)
    return UNet2DConditionModel(
        sample_size=d.image_size // 8,
        in_channels=4,
        out_channels=4,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=d.unet_channels,
        layers_per_block=d.unet_layers,
        cross_attention_dim=d.text_hidden,
        attention_head_dim=8,
        norm_num_groups=min(32, min(d.unet_channels)),
        addition_embed_type="text" if d.unet_pooled_text else None,
        addition_embed_type_num_heads=8,
    )


def build_train_scheduler():  # noqa: ANN201
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULER_KW)


def build_sample_scheduler():  # noqa: ANN201
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(**SCHEDULER_KW)


def n_params(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())
