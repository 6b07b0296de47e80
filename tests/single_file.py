"""Write a diffusers SD pipeline as one original-layout (LDM / A1111) ``.safetensors`` file.

The mirror of diffusers' LDM -> diffusers conversion (as in diffusers' repo script
``convert_diffusers_to_original_stable_diffusion.py``), generalised to any number of levels and
layers per block so the tiny test pipeline exports too. Works for the inpaint variant (9-channel
``conv_in``) as well. SD 1.x is the default layout; SD 2.x (OpenCLIP text encoder) and SDXL (two
text encoders under ``conditioner.embedders``) are written too, so those loaders get round-trip tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
_VAE_RESNET = (("conv_shortcut", "nin_shortcut"),)
_VAE_ATTN = (("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"))


def _unet_prefixes(config: Any) -> list[tuple[str, str, tuple]]:
    """(diffusers prefix, LDM prefix, inner renames) for every UNet block."""
    n = config.layers_per_block
    rules: list[tuple[str, str, tuple]] = [
        ("time_embedding.linear_1.", "time_embed.0.", ()),
        ("time_embedding.linear_2.", "time_embed.2.", ()),
        ("add_embedding.linear_1.", "label_emb.0.0.", ()),
        ("add_embedding.linear_2.", "label_emb.0.2.", ()),
        ("conv_in.", "input_blocks.0.0.", ()),
        ("conv_norm_out.", "out.0.", ()),
        ("conv_out.", "out.2.", ()),
        ("mid_block.attentions.0.", "middle_block.1.", ()),
        ("mid_block.resnets.0.", "middle_block.0.", _RESNET),
        ("mid_block.resnets.1.", "middle_block.2.", _RESNET),
    ]
    for i, up_type in enumerate(config.up_block_types):
        for j in range(n):
            rules.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{1 + i * (n + 1) + j}.0.", _RESNET))
            rules.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{1 + i * (n + 1) + j}.1.", ()))
        rules.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(i + 1) * (n + 1)}.0.op.", ()))
        for j in range(n + 1):
            rules.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{i * (n + 1) + j}.0.", _RESNET))
            rules.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{i * (n + 1) + j}.1.", ()))
        slot = 2 if "CrossAttn" in up_type else 1
        rules.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{i * (n + 1) + n}.{slot}.", ()))
    return rules


def _vae_prefixes(config: Any) -> list[tuple[str, str, tuple]]:
    levels = len(config.block_out_channels)
    rules: list[tuple[str, str, tuple]] = []
    for part in ("encoder", "decoder"):
        rules += [
            (f"{part}.conv_norm_out.", f"{part}.norm_out.", ()),
            (f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1.", _VAE_ATTN),
            (f"{part}.mid_block.resnets.0.", f"{part}.mid.block_1.", _VAE_RESNET),
            (f"{part}.mid_block.resnets.1.", f"{part}.mid.block_2.", _VAE_RESNET),
        ]
    for i in range(levels):
        for j in range(config.layers_per_block + 1):
            rules.append(
                (f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}.", _VAE_RESNET)
            )
            rules.append(
                (
                    f"decoder.up_blocks.{i}.resnets.{j}.",
                    f"decoder.up.{levels - 1 - i}.block.{j}.",
                    _VAE_RESNET,
                )
            )
        rules.append((f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample.", ()))
        rules.append((f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{levels - 1 - i}.upsample.", ()))
    return rules


def _rename(state: dict[str, Any], rules: list[tuple[str, str, tuple]], out_prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in state.items():
        new = key
        for old_p, new_p, inner in rules:
            if key.startswith(old_p):
                rest = key[len(old_p) :]
                for a, b in inner:
                    rest = rest.replace(a, b)
                new = new_p + rest
                break
        out[out_prefix + new] = value.detach().contiguous()
    return out


def _vae_attention_to_conv(state: dict[str, Any]) -> None:
    """LDM's VAE mid attention uses 1x1 convolutions where diffusers uses linear layers."""
    for key, value in state.items():
        is_attn = ".mid.attn_1." in key and key.endswith(
            ("q.weight", "k.weight", "v.weight", "proj_out.weight")
        )
        if is_attn and value.ndim == 2:
            state[key] = value[:, :, None, None].contiguous()


def _clip_state(encoder: Any, prefix: str) -> dict[str, Any]:
    """HF CLIP text encoder in the transformers 4 key layout (``text_model.`` level), under ``prefix``."""
    out = {}
    for key, value in encoder.state_dict().items():
        hf_key = key if key.startswith(("text_model.", "text_projection")) else "text_model." + key
        out[prefix + hf_key] = value.detach().contiguous()
    return out


_OPEN_CLIP = (
    ("embeddings.token_embedding.weight", "token_embedding.weight"),
    ("embeddings.position_embedding.weight", "positional_embedding"),
    ("final_layer_norm.", "ln_final."),
    ("encoder.layers.", "transformer.resblocks."),
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    ("mlp.fc1", "mlp.c_fc"),
    ("mlp.fc2", "mlp.c_proj"),
    ("self_attn.out_proj", "attn.out_proj"),
)


def _open_clip_state(encoder: Any, prefix: str, extra_last_block: bool) -> dict[str, Any]:
    """HF CLIP text encoder as OpenCLIP keys (fused q/k/v ``in_proj``, transposed projection).

    ``extra_last_block`` adds the final block SD 2.x checkpoints carry but do not use.
    """
    import torch

    state = {k.removeprefix("text_model."): v.detach() for k, v in encoder.state_dict().items()}
    out: dict[str, Any] = {}
    layers = encoder.config.num_hidden_layers
    for i in range(layers):
        p = f"encoder.layers.{i}.self_attn."
        for kind in ("weight", "bias"):
            fused = [state.pop(f"{p}{x}_proj.{kind}") for x in "qkv"]
            out[f"{prefix}transformer.resblocks.{i}.attn.in_proj_{kind}"] = torch.cat(fused).contiguous()
    if "text_projection.weight" in state:
        out[prefix + "text_projection"] = state.pop("text_projection.weight").T.contiguous()
    for key, value in state.items():
        for a, b in _OPEN_CLIP:
            key = key.replace(a, b)
        out[prefix + key] = value.contiguous()
    if extra_last_block:
        block = f"{prefix}transformer.resblocks.{layers - 1}."
        for key in [k for k in out if k.startswith(block)]:
            out[key.replace(block, f"{prefix}transformer.resblocks.{layers}.")] = out[key].clone()
    return out


def original_state_dict(pipe: Any, family: str = "sd1") -> dict[str, Any]:
    """LDM-layout state dict of a diffusers pipeline: ``family`` "sd1" | "sd2" | "sdxl" picks the text
    encoder layout (SDXL is also recognised from ``text_encoder_2``)."""
    state = _rename(pipe.unet.state_dict(), _unet_prefixes(pipe.unet.config), "model.diffusion_model.")
    vae = _rename(pipe.vae.state_dict(), _vae_prefixes(pipe.vae.config), "first_stage_model.")
    _vae_attention_to_conv(vae)
    state.update(vae)
    if getattr(pipe, "text_encoder_2", None) is not None:
        state.update(_clip_state(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        state.update(_open_clip_state(pipe.text_encoder_2, "conditioner.embedders.1.model.", False))
    elif family == "sd2":
        state.update(_open_clip_state(pipe.text_encoder, "cond_stage_model.model.", True))
    else:
        state.update(_clip_state(pipe.text_encoder, "cond_stage_model.transformer."))
    return state


def export_original_layout(
    pipe: Any, path: Path, metadata: dict[str, str] | None = None, family: str = "sd1"
) -> Path:
    """Write ``pipe`` as a single LDM-layout ``.safetensors`` checkpoint at ``path``."""
    from safetensors.torch import save_file

    path = Path(path)
    save_file(original_state_dict(pipe, family), str(path), metadata=metadata)
    return path
