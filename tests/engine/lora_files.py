"""Random-weight LoRA files for the tiny test model: kohya/A1111 keys written by hand, and diffusers
(peft) format saved by diffusers itself."""

from __future__ import annotations

from pathlib import Path

ATTENTION = ("to_q", "to_k", "to_v")


def kohya_lora(
    path: Path, seed: int = 1, rank: int = 4, cross_width: int | None = None, scale: float = 0.5
) -> Path:
    """kohya keys (``lora_unet_<module>.lora_down/lora_up/alpha``) for the tiny UNet's attention
    projections; ``cross_width`` fakes the text width of attn2.to_k/to_v (another model family)."""
    import torch
    from safetensors.torch import save_file

    from tests.tiny_model import build_tiny_pipeline

    unet = build_tiny_pipeline().unet
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, module in unet.named_modules():
        if not isinstance(module, torch.nn.Linear) or name.rsplit(".", 1)[-1] not in ATTENTION:
            continue
        in_features = module.in_features
        if cross_width is not None and "attn2" in name and not name.endswith("to_q"):
            in_features = cross_width
        key = "lora_unet_" + name.replace(".", "_")
        state[key + ".lora_down.weight"] = torch.randn(rank, in_features, generator=gen) * scale
        state[key + ".lora_up.weight"] = torch.randn(module.out_features, rank, generator=gen) * scale
        state[key + ".alpha"] = torch.tensor(float(rank))
    save_file(state, str(path))
    return path


def diffusers_lora(path: Path, seed: int = 2, rank: int = 4) -> Path:
    """A diffusers/peft LoRA (``unet.`` keys, ``lora_A``/``lora_B``) saved with ``save_lora_weights``."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from tests.tiny_model import build_tiny_pipeline

    unet = build_tiny_pipeline().unet
    torch.manual_seed(seed)
    unet.add_adapter(
        LoraConfig(r=rank, lora_alpha=rank, target_modules=list(ATTENTION), init_lora_weights=False)
    )
    layers = get_peft_model_state_dict(unet)
    StableDiffusionPipeline.save_lora_weights(
        str(path.parent), unet_lora_layers=layers, weight_name=path.name, safe_serialization=True
    )
    return path
