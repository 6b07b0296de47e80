"""A single-file SD3 / SD3.5 or Flux transformer (``.safetensors`` or GGUF-quantised ``.gguf``), offline.

The usual downloads of these models are the transformer alone (``flux1-dev.safetensors``,
``flux1-dev-Q8_0.gguf``, ``sd3.5_large.safetensors``): the text encoders (CLIP-L, CLIP-G, T5-XXL),
their tokenizers and the VAE are separate, and the T5 tokenizer is not shipped with Studio. So the
transformer comes from the file and every other component from a diffusers folder of the same
model, searched in this order:

1. a diffusers folder (``model_index.json`` of the family's pipeline) in the file's own folder, or
   that folder itself: preferably one whose transformer config fits the file (Flux dev / schnell);
   its ``transformer/`` weights may be left out;
2. the model's official diffusers repository in the local Hugging Face cache
   (``black-forest-labs/FLUX.1-dev``, ...), never downloaded.

Without one the load fails with a message saying what is missing and where to put it. Text encoders
or a VAE inside the file itself are not used (the folder's are).

The transformer is built with diffusers' ``from_single_file`` (its own key conversion of the original
layout) from a local config: the folder's ``transformer/config.json`` when it fits the file, else
Studio's shipped config for the detected variant (``resources/configs/<variant>/transformer``).
GGUF files load through diffusers' ``GGUFQuantizationConfig`` (the ``gguf`` package): the weights stay
quantised in memory and are dequantised layer by layer in the compute dtype.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from studio.core.jsontext import parse_json
from studio.engine.device import is_out_of_memory
from studio.engine.loading.detect import DIT_VARIANTS, TRANSFORMER_ONLY, CheckpointInfo
from studio.engine.loading.errors import ModelLoadError, short
from studio.engine.loading.folder import load_folder
from studio.engine.loading.infer import config_dir
from studio.engine.loading.loaded import LoadedModel, Progress, no_progress
from studio.engine.loading.resolve import cached_hub_snapshot

log = logging.getLogger(__name__)

PIPELINES = {"sd3": "StableDiffusion3Pipeline", "flux": "FluxPipeline"}
TRANSFORMERS = {"sd3": "SD3Transformer2DModel", "flux": "FluxTransformer2DModel"}
# variant -> the official diffusers repository (looked up in the local Hugging Face cache only)
HUB_REPOS = {
    "sd3-medium": "stabilityai/stable-diffusion-3-medium-diffusers",
    "sd35-medium": "stabilityai/stable-diffusion-3.5-medium",
    "sd35-large": "stabilityai/stable-diffusion-3.5-large",
    "flux-dev": "black-forest-labs/FLUX.1-dev",
    "flux-schnell": "black-forest-labs/FLUX.1-schnell",
}
_PARTS = {
    "sd3": "its text encoders (CLIP-L, CLIP-G, T5-XXL), their tokenizers and its VAE",
    "flux": "its text encoders (CLIP-L, T5-XXL), their tokenizers and its VAE",
}


def load_dit_file(
    path: Path, info: CheckpointInfo, *, ref: str, dtype: Any, progress: Progress | None = None
) -> LoadedModel:
    """The pipeline for a single-file SD3 / Flux transformer (CPU, ``dtype``); see the module docstring."""
    report = progress or no_progress
    folder = components_folder(path, info)
    report(f"Reading the {DIT_VARIANTS[info.config_name]} transformer from {path.name}")
    transformer = load_transformer(path, info, transformer_config_root(folder, info), dtype)
    report(f"Loading the text encoders and VAE from {folder.name}")
    return load_folder(
        folder,
        ref=ref,
        dtype=dtype,
        progress=progress,
        components={"transformer": transformer},
        weights_file=path,
    )


# ------------------------------------------------------------------------------ the other parts
def components_folder(path: Path, info: CheckpointInfo) -> Path:
    """The diffusers folder the text encoders, tokenizers and VAE come from (or ModelLoadError)."""
    local = _local_folders(path.parent, info.family)
    fitting = [f for f in local if _transformer_fits(f, info)]
    if fitting or local:
        chosen = (fitting or local)[0]
        log.info("%s: the other components come from %s", path.name, chosen)
        return chosen
    repo = HUB_REPOS.get(info.config_name)
    if repo is not None:
        try:
            return cached_hub_snapshot(repo)
        except ModelLoadError:
            log.info("%s is not in the local Hugging Face cache", repo)
    raise ModelLoadError(_missing_parts(path, info, repo))


def _missing_parts(path: Path, info: CheckpointInfo, repo: str | None) -> str:
    variant = DIT_VARIANTS[info.config_name]
    where = f"the diffusers copy of {repo}" if repo else f"a diffusers copy of {variant}"
    cache = f', or have "{repo}" in the Hugging Face cache' if repo else ""
    holds = (
        f"Studio uses the {variant} transformer of {path.name}"
        if info.hint != TRANSFORMER_ONLY
        else f"{path.name} holds only the {variant} transformer"
    )
    return (
        f"{holds}. Studio also needs {_PARTS[info.family]}, "
        f"which it takes from a diffusers model folder: put {where} (the folder with model_index.json; "
        f"its transformer/ weights may be left out) next to the file, in {path.parent}{cache}. "
        "Studio never downloads models."
    )


def _local_folders(parent: Path, family: str) -> list[Path]:
    candidates = [parent, *sorted(p for p in parent.iterdir() if p.is_dir())] if parent.is_dir() else []
    return [p for p in candidates if _pipeline_class(p) == PIPELINES[family] and _has_parts(p)]


def _read_json(path: Path) -> dict[str, Any]:
    """A config of a folder that may not be a model at all: {} when it cannot be read."""
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"))  # too deeply nested: a ValueError too
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pipeline_class(folder: Path) -> str:
    return str(_read_json(folder / "model_index.json").get("_class_name", ""))


def _has_parts(folder: Path) -> bool:
    """Every component the folder's model_index.json names is there (the transformer may be missing)."""
    index = _read_json(folder / "model_index.json")
    return all(
        (folder / name).is_dir()
        for name, spec in index.items()
        if isinstance(spec, list) and spec and spec[0] is not None and name != "transformer"
    )


def _transformer_fits(folder: Path, info: CheckpointInfo) -> bool:
    cfg = _read_json(folder / "transformer" / "config.json")
    if cfg.get("_class_name") != TRANSFORMERS[info.family]:
        return False
    if info.family == "flux":
        return bool(cfg.get("guidance_embeds", False)) == (info.config_name == "flux-dev")
    dual = bool(cfg.get("dual_attention_layers"))
    return dual == (info.config_name == "sd35-medium")


def transformer_config_root(folder: Path, info: CheckpointInfo) -> Path:
    """A folder whose ``transformer/config.json`` describes the file's transformer."""
    if _transformer_fits(folder, info):
        return folder
    shipped = config_dir(info.config_name)
    if (shipped / "transformer" / "config.json").is_file():
        return shipped
    raise ModelLoadError(
        f"Studio has no configuration for {DIT_VARIANTS[info.config_name]} transformers and {folder.name} "
        "has none that fits the file: use a diffusers folder of the same model (its transformer/config.json)."
    )


# ------------------------------------------------------------------------------- the transformer
def load_transformer(path: Path, info: CheckpointInfo, config_root: Path, dtype: Any) -> Any:
    """``<Transformer>.from_single_file`` from the local config (GGUF: quantised), never fetching."""
    import diffusers

    cls = getattr(diffusers, TRANSFORMERS[info.family])
    kwargs: dict[str, Any] = {
        "config": str(config_root),
        "subfolder": "transformer",
        "local_files_only": True,
        "dtype": dtype,
    }
    if path.suffix.lower() == ".gguf":
        kwargs["quantization_config"] = diffusers.GGUFQuantizationConfig(compute_dtype=dtype)
    try:
        model = cls.from_single_file(str(path), **kwargs)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise
        log.exception("Loading the transformer of %s failed", path.name)
        raise ModelLoadError(
            f"The {DIT_VARIANTS[info.config_name]} transformer in {path.name} could not be loaded "
            f"({short(exc)}). The file may be damaged, or a variant Studio does not support."
        ) from exc
    model.requires_grad_(False)
    return model.eval()
