"""Component configs for a single-file checkpoint: the family's shipped config + dimensions read off
the checkpoint's tensor shapes (pure Python).

The shipped configs (``studio/resources/configs/<name>/``) give what weights cannot tell (activation
functions, scheduler, tokenizer, sample size, ...). Shapes give block channels, layers per block,
attention placement and depth, cross-attention size, in/out channels, VAE channels, text encoder
width/depth/vocabulary. So fine-tunes of every size load, including tiny test checkpoints.
Head counts are not stored in weights: SD 1.x UNets have 8 heads; SD 2.x/SDXL UNets and all text
encoders use 64-wide heads (``channels // 64``, at least 1).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.core.paths import resource
from studio.engine.loading.detect import SD1_TEXT, SD2_TEXT, UNET, VAE, XL_TEXT_1, XL_TEXT_2, CheckpointInfo
from studio.engine.loading.errors import ModelLoadError

Shapes = dict[str, tuple[int, ...]]
HEAD_WIDTH = 64


def config_dir(name: str) -> Path:
    return resource("configs", name)


def read_config(name: str, component: str) -> dict[str, Any]:
    folder = config_dir(name) / component
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ModelLoadError(f"Studio's model configuration {name}/{component} is missing; reinstall Studio.")
    return json.loads(files[0].read_text(encoding="utf-8"))


def _indices(shapes: Shapes, prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in shapes if (m := pat.match(k))})


def _count(shapes: Shapes, prefix: str) -> int:
    found = _indices(shapes, prefix)
    return found[-1] + 1 if found else 0


def _shape(shapes: Shapes, key: str) -> tuple[int, ...]:
    if key not in shapes:
        raise ModelLoadError(
            f"The checkpoint is missing the weight {key}; the file is incomplete or not a supported model."
        )
    return shapes[key]


def _unet_levels(shapes: Shapes) -> list[dict[str, Any]]:
    """Walk ``input_blocks``: one dict (channels, resnets, attention, depth) per resolution level."""
    levels: list[dict[str, Any]] = []
    current: dict[str, Any] = {"ch": 0, "res": 0, "attn": False, "depth": 1}
    for i in _indices(shapes, UNET + "input_blocks.")[1:]:
        block = f"{UNET}input_blocks.{i}."
        if block + "0.op.weight" in shapes:
            levels.append(current)
            current = {"ch": 0, "res": 0, "attn": False, "depth": 1}
            continue
        current["ch"] = _shape(shapes, block + "0.out_layers.3.weight")[0]
        current["res"] += 1
        if any(k.startswith(block + "1.") for k in shapes):
            current["attn"] = True
            current["depth"] = max(1, _count(shapes, block + "1.transformer_blocks."))
    if current["res"]:
        levels.append(current)
    if not levels or len({lvl["res"] for lvl in levels}) != 1:
        raise ModelLoadError("The checkpoint's UNet has an irregular layout that Studio does not support.")
    return levels


def unet_config(info: CheckpointInfo, shapes: Shapes, text_proj_dim: int | None) -> dict[str, Any]:
    cfg = read_config(info.config_name, "unet")
    conv_in = _shape(shapes, UNET + "input_blocks.0.0.weight")
    levels = _unet_levels(shapes)
    channels = [lvl["ch"] for lvl in levels]
    to_k = next((k for k in shapes if k.startswith(UNET) and k.endswith("attn2.to_k.weight")), None)
    proj_in = next((k for k in shapes if k.startswith(UNET) and k.endswith(".proj_in.weight")), None)
    if to_k is None or proj_in is None:
        raise ModelLoadError(
            "The checkpoint's UNet has no cross-attention layers; it is not a supported model."
        )
    cfg.update(
        in_channels=conv_in[1],
        out_channels=_shape(shapes, UNET + "out.2.weight")[0],
        block_out_channels=channels,
        layers_per_block=levels[0]["res"],
        down_block_types=["CrossAttnDownBlock2D" if lvl["attn"] else "DownBlock2D" for lvl in levels],
        up_block_types=["CrossAttnUpBlock2D" if lvl["attn"] else "UpBlock2D" for lvl in reversed(levels)],
        transformer_layers_per_block=[lvl["depth"] for lvl in levels],
        cross_attention_dim=shapes[to_k][1],
        use_linear_projection=len(shapes[proj_in]) == 2,
    )
    if info.family != "sd1":
        cfg["attention_head_dim"] = [max(1, c // HEAD_WIDTH) for c in channels]
    if info.family == "sdxl":
        adm = _shape(shapes, UNET + "label_emb.0.0.weight")[1]
        cfg["projection_class_embeddings_input_dim"] = adm
        if text_proj_dim is not None and (adm - text_proj_dim) > 0 and (adm - text_proj_dim) % 6 == 0:
            cfg["addition_time_embed_dim"] = (adm - text_proj_dim) // 6
    return cfg


def vae_config(info: CheckpointInfo, shapes: Shapes) -> dict[str, Any]:
    cfg = read_config(info.config_name, "vae")
    enc = VAE + "encoder."
    n_levels = _count(shapes, enc + "down.")
    if not n_levels:
        raise ModelLoadError("The checkpoint's VAE is incomplete or has an unknown layout.")
    cfg.update(
        in_channels=_shape(shapes, enc + "conv_in.weight")[1],
        out_channels=_shape(shapes, VAE + "decoder.conv_out.weight")[0],
        latent_channels=_shape(shapes, VAE + "decoder.conv_in.weight")[1],
        block_out_channels=[
            _shape(shapes, f"{enc}down.{i}.block.0.conv2.weight")[0] for i in range(n_levels)
        ],
        layers_per_block=_count(shapes, enc + "down.0.block."),
        down_block_types=["DownEncoderBlock2D"] * n_levels,
        up_block_types=["UpDecoderBlock2D"] * n_levels,
    )
    return cfg


def clip_text_prefix(shapes: Shapes, prefix: str) -> str:
    """HF-layout CLIP prefix, with or without the ``text_model.`` level older exports lack."""
    return prefix + "text_model." if any(k.startswith(prefix + "text_model.") for k in shapes) else prefix


def clip_config(info: CheckpointInfo, shapes: Shapes, component: str, prefix: str) -> dict[str, Any]:
    """Config for an HF-layout CLIP text encoder (SD 1.x, SDXL's first encoder)."""
    cfg = read_config(info.config_name, component)
    p = clip_text_prefix(shapes, prefix)
    vocab, hidden = _shape(shapes, p + "embeddings.token_embedding.weight")
    cfg.update(
        vocab_size=vocab,
        hidden_size=hidden,
        max_position_embeddings=_shape(shapes, p + "embeddings.position_embedding.weight")[0],
        num_hidden_layers=_count(shapes, p + "encoder.layers."),
        intermediate_size=_shape(shapes, p + "encoder.layers.0.mlp.fc1.weight")[0],
        num_attention_heads=max(1, hidden // HEAD_WIDTH),
    )
    return cfg


def open_clip_config(info: CheckpointInfo, shapes: Shapes, component: str, prefix: str) -> dict[str, Any]:
    """Config for an OpenCLIP text encoder (SD 2.x: last block unused; SDXL's second encoder)."""
    cfg = read_config(info.config_name, component)
    vocab, hidden = _shape(shapes, prefix + "token_embedding.weight")
    blocks = _count(shapes, prefix + "transformer.resblocks.")
    cfg.update(
        vocab_size=vocab,
        hidden_size=hidden,
        max_position_embeddings=_shape(shapes, prefix + "positional_embedding")[0],
        # SD 2.x conditions on the penultimate block: diffusers' encoder drops the last one.
        num_hidden_layers=blocks - 1 if prefix == SD2_TEXT else blocks,
        intermediate_size=_shape(shapes, prefix + "transformer.resblocks.0.mlp.c_fc.weight")[0],
        num_attention_heads=max(1, hidden // HEAD_WIDTH),
    )
    if prefix + "text_projection" in shapes:
        cfg["projection_dim"] = shapes[prefix + "text_projection"][1]
    return cfg


def text_configs(info: CheckpointInfo, shapes: Shapes) -> dict[str, dict[str, Any]]:
    if info.family == "sd1":
        return {"text_encoder": clip_config(info, shapes, "text_encoder", SD1_TEXT)}
    if info.family == "sd2":
        return {"text_encoder": open_clip_config(info, shapes, "text_encoder", SD2_TEXT)}
    return {
        "text_encoder": clip_config(info, shapes, "text_encoder", XL_TEXT_1),
        "text_encoder_2": open_clip_config(info, shapes, "text_encoder_2", XL_TEXT_2),
    }


def check_text_width(shapes: Shapes, unet_cfg: dict[str, Any], texts: dict[str, dict[str, Any]]) -> None:
    """The UNet's cross-attention must match the text encoder(s) output width."""
    width = sum(cfg["hidden_size"] for cfg in texts.values())
    if unet_cfg["cross_attention_dim"] != width:
        raise ModelLoadError(
            "The checkpoint's parts do not fit together (wrong shapes): its UNet expects text features of "
            f"size {unet_cfg['cross_attention_dim']} but its text encoder gives {width}. The file is damaged "
            "or was merged from incompatible models."
        )
