"""Random-weight control models for the tiny test model, built from configs as diffusers' own tests do:
a ControlNet (diffusers folder, or one .safetensors in diffusers' key layout), a T2I-Adapter folder,
an IP-Adapter `.safetensors` (A1111/h94 key layout) and a tiny CLIP vision image encoder."""

from __future__ import annotations

from pathlib import Path

from studio.engine.control import controlnet_config
from tests.tiny_model import build_tiny_components

IMAGE_ENCODER_SIDE = 32
IMAGE_EMBED_DIM = 32


def tiny_unet():
    return build_tiny_components()["unet"]


def controlnet_folder(folder: Path, seed: int = 1, cross_width: int | None = None) -> Path:
    """A ControlNet for the tiny model with non-zero output convolutions (fresh ControlNets start at 0)."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    config = controlnet_config(dict(tiny_unet().config))
    if cross_width is not None:
        config["cross_attention_dim"] = cross_width
    net = ControlNetModel.from_config(config)
    with torch.no_grad():
        for name, param in net.named_parameters():
            if "controlnet_down_blocks" in name or "controlnet_mid_block" in name or "conv_out" in name:
                param.normal_(0, 0.5)
    net.save_pretrained(str(folder))
    return folder


def controlnet_file(path: Path, seed: int = 1) -> Path:
    """The same kind of ControlNet as one .safetensors file (diffusers' key layout)."""
    from diffusers import ControlNetModel
    from safetensors.torch import save_file

    folder = controlnet_folder(path.parent / f"{path.stem}-folder", seed)
    net = ControlNetModel.from_pretrained(str(folder))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def adapter_folder(folder: Path, seed: int = 2) -> Path:
    import torch
    from diffusers import T2IAdapter

    torch.manual_seed(seed)
    adapter = T2IAdapter(
        in_channels=3, channels=[32, 64], num_res_blocks=1, downscale_factor=8, adapter_type="full_adapter"
    )
    adapter.save_pretrained(str(folder))
    return folder


def image_encoder_folder(folder: Path) -> Path:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32,
        projection_dim=IMAGE_EMBED_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        image_size=IMAGE_ENCODER_SIDE,
        patch_size=8,
    )
    CLIPVisionModelWithProjection(config).save_pretrained(str(folder))
    return folder


def ip_adapter_file(path: Path, seed: int = 3, unet=None, scale: float = 0.2) -> Path:
    """An IP-Adapter (basic: 4 image tokens) for `unet` (default: the tiny UNet), keys as h94's
    files have them; `scale` sets the size of its random attention weights."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    unet = unet if unet is not None else tiny_unet()
    cross = int(unet.config.cross_attention_dim)
    state = {
        "image_proj.proj.weight": torch.randn(4 * cross, IMAGE_EMBED_DIM, generator=gen) * 0.2,
        "image_proj.proj.bias": torch.zeros(4 * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key_id = 1
    for name in unet.attn_processors:
        if name.endswith("attn1.processor"):
            continue
        hidden = _hidden_size(unet, name)
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = torch.randn(hidden, cross, generator=gen) * scale
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = torch.randn(hidden, cross, generator=gen) * scale
        key_id += 2
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def _hidden_size(unet, name: str) -> int:
    channels = list(unet.config.block_out_channels)
    if name.startswith("mid_block"):
        return channels[-1]
    block = int(name.split(".")[1])
    return list(reversed(channels))[block] if name.startswith("up_blocks") else channels[block]
