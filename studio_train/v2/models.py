"""Model sizes and builders for studio-mini v2 (standard SD1 layout: factor-8 autoencoder,
4 latent channels, UNet2DConditionModel with cross_attention_dim = the text encoder's width)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from studio_train.model import build_sample_scheduler, build_train_scheduler, n_params  # noqa: F401
from studio_train.v2.text import WIDTH


@dataclass(frozen=True)
class Dims:
    image_size: int = 128
    ae_channels: tuple[int, ...] = (16, 32, 64, 128)
    # No attention at the top level (16x16 at 128 px): ~2x cheaper a step (measured), attention
    # at 8x8 and 4x4 as SD does at its lower levels.
    unet_channels: tuple[int, ...] = (64, 128, 256)
    unet_layers: int = 2
    attention_head_dim: int = 8
    text_width: int = WIDTH
    unet_pooled_text: bool = True

    @classmethod
    def tiny(cls) -> Dims:
        return cls(image_size=64, ae_channels=(8, 8, 16, 16), unet_channels=(32, 32, 32), unet_layers=1)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def build_autoencoder(d: Dims) -> Any:  # noqa: ANN401
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


def build_unet(d: Dims) -> Any:  # noqa: ANN401
    from diffusers import UNet2DConditionModel

    n = len(d.unet_channels)
    return UNet2DConditionModel(
        sample_size=d.image_size // 8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        block_out_channels=d.unet_channels,
        layers_per_block=d.unet_layers,
        cross_attention_dim=d.text_width,
        attention_head_dim=d.attention_head_dim,
        norm_num_groups=min(32, min(d.unet_channels)),
        addition_embed_type="text" if d.unet_pooled_text else None,
        addition_embed_type_num_heads=8,
    )
