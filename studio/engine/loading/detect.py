"""What is in a single-file checkpoint, from its key names and tensor shapes alone (pure Python).

Families (LDM / A1111 key layout):
- SD 1.x: ``cond_stage_model.transformer.*`` (OpenAI CLIP ViT-L in HF layout);
- SD 2.x: ``cond_stage_model.model.*`` (OpenCLIP ViT-H);
- SDXL base: ``conditioner.embedders.0.transformer.*`` (CLIP-L) + ``conditioner.embedders.1.model.*``
  (OpenCLIP bigG) and a ``label_emb`` (size/crop conditioning) in the UNet.
- SD3 / SD3.5 (a diffusion transformer, MMDiT): ``joint_blocks.*`` (original layout, with or without
  the ``model.diffusion_model.`` prefix) or diffusers' ``transformer_blocks.*`` + ``pos_embed.*``;
  38 blocks: SD3.5 large, a second attention in the blocks (``attn2``): SD3.5 medium, else SD3 medium;
- Flux: ``double_blocks.*`` / ``single_blocks.*`` (original layout, with or without the prefix) or
  diffusers' ``single_transformer_blocks.*``; dev when it has the guidance embedder
  (``guidance_in.*`` / ``time_text_embed.guidance_embedder.*``), else schnell.
  These files usually hold the transformer only (``studio.engine.loading.dit_file`` finds the rest);
  GGUF files (``.gguf``, quantised transformers) are detected from their tensor names the same way.
Inpainting: the UNet's first convolution ``model.diffusion_model.input_blocks.0.0.weight`` takes 9
channels (4 latent + 4 masked-image latent + 1 mask) instead of 4.

Prediction type (epsilon or v) is not recorded in the weights. Studio follows what diffusers'
``from_single_file`` infers and adds the usual explicit hints:
- an A1111-style sidecar ``<name>.yaml`` next to the file: ``parameterization: "v"`` -> v, else epsilon;
- safetensors metadata ``modelspec.prediction_type`` ("v"/"v_prediction"/"epsilon");
- a ``v_pred`` key in the checkpoint (the ComfyUI convention used by v-prediction SDXL models) -> v;
- otherwise, as diffusers: SD 2.x non-inpaint -> v-prediction at 768 px (SD 2.0-v/2.1), except a
  ``.ckpt`` whose ``global_step`` is 875000 (SD 2.0/2.1 *base*) -> epsilon at 512 px; SD 2 inpainting,
  SD 1.x and SDXL -> epsilon.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.engine.loading.checkpoint import CheckpointFile, read_checkpoint
from studio.engine.loading.errors import ModelLoadError

UNET = "model.diffusion_model."
CONV_IN = UNET + "input_blocks.0.0.weight"
VAE = "first_stage_model."
SD1_TEXT = "cond_stage_model.transformer."
SD2_TEXT = "cond_stage_model.model."
XL_TEXT_1 = "conditioner.embedders.0.transformer."
XL_TEXT_2 = "conditioner.embedders.1.model."
XL_REFINER_TEXT = "conditioner.embedders.0.model."
SD2_BASE_GLOBAL_STEP = 875000

_LORA_MARKERS = (
    "lora_unet",
    "lora_te",
    "lora_down",
    "lora_up",
    "lora_a.",
    "lora_b.",
    "lora.",
    "hada_w",
    "lokr_",
)
_FAMILY_NAMES = {
    "sd1": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x",
    "sdxl": "SDXL",
    "sd3": "Stable Diffusion 3",
    "flux": "Flux",
}
FLOW = "flow"  # the prediction type of the flow-matching transformers (velocity)
# config_name -> what it is called
DIT_VARIANTS = {
    "sd3-medium": "SD3 medium",
    "sd35-medium": "SD3.5 medium",
    "sd35-large": "SD3.5 large",
    "flux-dev": "Flux dev",
    "flux-schnell": "Flux schnell",
}
SD35_LARGE_BLOCKS = 38
TRANSFORMER_ONLY = "transformer only"
FLUX_IN_CHANNELS = 64  # 16 latent channels x 2x2 packing


@dataclass(frozen=True)
class CheckpointInfo:
    family: str  # "sd1" | "sd2" | "sdxl" | "sd3" | "flux"
    inpaint: bool
    prediction_type: str  # "epsilon" | "v_prediction" | "flow" (SD3 / Flux)
    config_name: str  # folder under studio/resources/configs (SD3 / Flux: the variant, DIT_VARIANTS)
    hint: str  # where the prediction type came from (SD3 / Flux: what the file holds)

    def describe(self) -> str:
        if self.prediction_type == FLOW:
            return f"{DIT_VARIANTS.get(self.config_name, _FAMILY_NAMES[self.family])} ({self.hint})"
        kind = " inpainting" if self.inpaint else ""
        pred = ", v-prediction" if self.prediction_type == "v_prediction" else ""
        return f"{_FAMILY_NAMES[self.family]}{kind}{pred}"


def detect(ckpt: CheckpointFile) -> CheckpointInfo:
    """Classify a checkpoint or raise :class:`ModelLoadError` saying what the file is instead."""
    shapes = ckpt.shapes
    name = ckpt.path.name
    dit = detect_dit(shapes)
    if dit is not None:
        _check_flux_input(name, dit, shapes)
        return dit
    if CONV_IN not in shapes:
        raise ModelLoadError(_not_a_model(name, shapes))
    family = _family(name, shapes)
    in_channels = shapes[CONV_IN][1] if len(shapes[CONV_IN]) == 4 else -1
    if in_channels not in (4, 9):
        what = {8: "an InstructPix2Pix model", 7: "an upscaler model"}.get(in_channels, "a model")
        raise ModelLoadError(
            f"{name} looks like {what} (its UNet takes {in_channels} input channels), which Studio does not "
            "support. Studio runs Stable Diffusion 1.x, 2.x and SDXL models and their inpainting versions."
        )
    if not any(k.startswith(VAE) for k in shapes):
        raise ModelLoadError(
            f"{name} has no VAE (image decoder) inside: it holds only part of a model. "
            "Use a full checkpoint (UNet + text encoder + VAE)."
        )
    inpaint = in_channels == 9
    prediction, hint = _prediction_type(ckpt, family, inpaint)
    return CheckpointInfo(family, inpaint, prediction, _config_name(family, inpaint, prediction), hint)


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """Family / inpaint / prediction type of a checkpoint without building it (safetensors: header only)."""
    return detect(read_checkpoint(Path(path)))


def detect_dit(names: Iterable[str]) -> CheckpointInfo | None:
    """SD3 / SD3.5 or Flux from tensor names (original or diffusers layout), else None."""
    keys = {k.removeprefix(UNET) for k in names}
    if not keys:
        return None
    if _has(keys, "double_blocks.", "single_blocks.", "single_transformer_blocks."):
        dev = _has(keys, "guidance_in.", "time_text_embed.guidance_embedder.")
        return _dit("flux", "flux-dev" if dev else "flux-schnell", keys)
    original = _has(keys, "joint_blocks.")
    if original or ("pos_embed.pos_embed" in keys and _has(keys, "transformer_blocks.")):
        blocks = _count_blocks(keys, "joint_blocks." if original else "transformer_blocks.")
        if any(".attn2." in k for k in keys):
            variant = "sd35-medium"
        else:
            variant = "sd35-large" if blocks >= SD35_LARGE_BLOCKS else "sd3-medium"
        return _dit("sd3", variant, keys)
    return None


def _check_flux_input(name: str, info: CheckpointInfo, shapes: dict[str, tuple[int, ...]]) -> None:
    """Flux Fill / Depth / Canny take extra image channels (384 / 128 instead of 64): not supported."""
    if info.family != "flux":
        return
    for key in ("img_in.weight", UNET + "img_in.weight", "x_embedder.weight"):
        shape = shapes.get(key)
        if shape is not None and len(shape) == 2 and shape[1] != FLUX_IN_CHANNELS:
            raise ModelLoadError(
                f"{name} is a Flux variant that takes extra image inputs (Flux Fill, Depth or Canny: "
                f"{shape[1]} input channels instead of {FLUX_IN_CHANNELS}), which Studio does not support. "
                "Use Flux dev or schnell."
            )


def _has(keys: Iterable[str], *prefixes: str) -> bool:
    return any(k.startswith(prefixes) for k in keys)


def _count_blocks(keys: Iterable[str], prefix: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    return max(found) + 1 if found else 0


def _dit(family: str, variant: str, keys: set[str]) -> CheckpointInfo:
    extras = _has(keys, VAE, "vae.", "text_encoders.")
    hint = "with its own VAE / text encoders" if extras else TRANSFORMER_ONLY
    return CheckpointInfo(family, False, FLOW, variant, hint)


def _family(name: str, shapes: dict[str, tuple[int, ...]]) -> str:
    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in shapes)

    has_label_emb = UNET + "label_emb.0.0.weight" in shapes
    if has(XL_TEXT_2) and has(XL_TEXT_1):
        family = "sdxl"
    elif has(XL_REFINER_TEXT):
        raise ModelLoadError(
            f"{name} is an SDXL refiner, which only polishes images made by an SDXL base model. "
            "Studio needs a base model; pick an SDXL base checkpoint."
        )
    elif has(SD2_TEXT):
        family = "sd2"
    elif has(SD1_TEXT):
        family = "sd1"
    else:
        raise ModelLoadError(
            f"{name} has no text encoder inside: it holds only part of a model (the UNet). "
            "Use a full checkpoint that includes the text encoder and VAE."
        )
    if has_label_emb != (family == "sdxl"):
        raise ModelLoadError(
            f"{name} is a Stable Diffusion variant Studio does not support (its UNet takes extra "
            "conditioning, as unCLIP or other special models do)."
        )
    return family


def _prediction_type(ckpt: CheckpointFile, family: str, inpaint: bool) -> tuple[str, str]:
    sidecar = ckpt.path.with_suffix(".yaml")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        is_v = re.search(r"parameterization:\s*[\"']?v[\"']?\s*$", text, re.MULTILINE)
        return ("v_prediction" if is_v else "epsilon"), f"from {sidecar.name}"
    spec = ckpt.metadata.get("modelspec.prediction_type", "").strip().lower()
    if spec in ("v", "v_prediction", "v-prediction"):
        return "v_prediction", "from the file's modelspec metadata"
    if spec in ("epsilon", "eps"):
        return "epsilon", "from the file's modelspec metadata"
    if "v_pred" in ckpt.shapes:
        return "v_prediction", "from the file's v_pred marker"
    if family == "sd2" and not inpaint:
        if ckpt.global_step == SD2_BASE_GLOBAL_STEP:
            return "epsilon", "SD 2 base (global_step 875000), as diffusers infers"
        return "v_prediction", "SD 2.x default (768 v-model), as diffusers infers"
    return "epsilon", "default"


def _config_name(family: str, inpaint: bool, prediction: str) -> str:
    if family == "sd1":
        return "sd15-inpaint" if inpaint else "sd15"
    if family == "sd2":
        if inpaint:
            return "sd2-inpaint"
        return "sd21" if prediction == "v_prediction" else "sd21-base"
    return "sdxl-inpaint" if inpaint else "sdxl-base"


def _not_a_model(name: str, shapes: dict[str, tuple[int, ...]]) -> str:
    keys = [k.lower() for k in shapes]
    if any(m in k for k in keys for m in _LORA_MARKERS):
        return (
            f"{name} looks like a LoRA (a small add-on for a model), not a full Stable Diffusion "
            "checkpoint, so it cannot be loaded as a model. Pick a full checkpoint instead."
        )
    if (
        any(k.startswith(("string_to_param", "emb_params", "clip_l", "clip_g")) for k in keys)
        and len(keys) <= 4
    ):
        return (
            f"{name} looks like a textual-inversion embedding (a learned word), not a Stable Diffusion "
            "checkpoint, so it cannot be loaded as a model."
        )
    if any(k.startswith(("control_model.", "controlnet_")) or ".controlnet_" in k for k in keys):
        return f"{name} looks like a ControlNet, not a Stable Diffusion checkpoint; Studio cannot load it as a model."
    if "encoder.conv_in.weight" in keys and "decoder.conv_out.weight" in keys:
        return f"{name} looks like a VAE on its own, not a full Stable Diffusion checkpoint."
    if "conv_in.weight" in keys and any(k.startswith("down_blocks.") for k in keys):
        return (
            f"{name} looks like one part (a UNet) of a diffusers model folder. Pick the whole model "
            "folder (the one containing model_index.json) instead."
        )
    if any(k.startswith(UNET) for k in keys):
        return (
            f"{name} is a diffusion model with an architecture Studio does not support. "
            "Studio runs Stable Diffusion 1.x, 2.x and SDXL models."
        )
    return f"{name} is not a Stable Diffusion checkpoint (none of the expected weights are in it)."
