"""Load a Stable Diffusion pipeline from a model reference, never touching the network.

A reference is one of:
- ``""``: the built-in model (``studio.core.paths.builtin_model_dir()``);
- a diffusers folder (``model_index.json``): SD 1.x/2.x, their inpaint variants, SDXL;
- a single ``.safetensors`` / ``.ckpt`` checkpoint in the original LDM/A1111 layout
  (see :mod:`studio.engine.checkpoint`);
- a Hub id (``"runwayml/stable-diffusion-v1-5"``) that is already in the local Hugging Face cache.

torch / diffusers / transformers are imported inside functions: importing this module is cheap.
Every failure is a :class:`ModelLoadError` whose message says what to do.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.model_catalog import BUILTIN_NAME, hub_cache_dir
from studio.core.paths import builtin_model_dir
from studio.engine.device import is_out_of_memory
from studio.engine.load_errors import ModelLoadError, short
from studio.engine.load_hash import is_hash_cached, model_hash_for

__all__ = ["LoadedModel", "ModelLoadError", "load_pipeline"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")

# model_index.json `_class_name` -> (family, inpaint) for the pipelines Studio runs.
_PIPELINE_CLASSES: dict[str, tuple[str, bool]] = {
    "StableDiffusionPipeline": ("sd1", False),
    "StableDiffusionImg2ImgPipeline": ("sd1", False),
    "StableDiffusionInpaintPipeline": ("sd1", True),
    "StableDiffusionXLPipeline": ("sdxl", False),
    "StableDiffusionXLImg2ImgPipeline": ("sdxl", False),
    "StableDiffusionXLInpaintPipeline": ("sdxl", True),
}


@dataclass
class LoadedModel:
    pipe: Any
    ref: str
    name: str
    family: str  # "sd1" | "sd2" | "sdxl"
    inpaint: bool
    model_hash: str
    folder: Path | None


def load_pipeline(ref: str, *, device: str, dtype: Any, progress: Progress | None = None) -> LoadedModel:
    """Load ``ref`` onto ``device`` in ``dtype`` (a torch dtype). Raises :class:`ModelLoadError`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = progress or (lambda _msg: None)
    kind, path = _resolve(ref)
    if kind == "file":
        from studio.engine.checkpoint import load_single_file

        report(f"Reading {path.name}")
        loaded = load_single_file(path, ref=ref, dtype=dtype, progress=report)
    else:
        report(f"Loading {path.name}")
        loaded = _load_folder(path, ref=ref, dtype=dtype, progress=report)
        if ref == "":
            loaded.name = BUILTIN_NAME
    report(f"Moving {loaded.name} to {device}")
    finish_pipeline(loaded.pipe, device=device)
    log.info(
        "Loaded %s (%s%s) on %s", loaded.name, loaded.family, ", inpaint" if loaded.inpaint else "", device
    )
    return loaded


def finish_pipeline(pipe: Any, *, device: str) -> None:
    """Move a pipeline (built in its final dtype) to ``device``, silence its progress bar, no safety checker."""
    try:
        pipe.to(device)
    except RuntimeError as exc:
        if is_out_of_memory(exc):
            raise
        raise ModelLoadError(f"Could not move the model to {device}: {short(exc)}") from exc
    pipe.set_progress_bar_config(disable=True)
    if getattr(pipe, "safety_checker", None) is not None:
        pipe.safety_checker = None
    if hasattr(pipe, "register_to_config") and "requires_safety_checker" in getattr(pipe, "config", {}):
        pipe.register_to_config(requires_safety_checker=False)


# ---------------------------------------------------------------------------------------------
# Resolving a reference


def _resolve(ref: str) -> tuple[str, Path]:
    """Return ("folder" | "file", path) for ``ref``; Hub ids resolve to their cached snapshot."""
    if ref == "":
        folder = builtin_model_dir()
        if not (folder / "model_index.json").is_file():
            raise ModelLoadError(
                f"The built-in model is not installed (expected it in {folder}). "
                "Reinstall Studio, or pick another model in the model list."
            )
        return "folder", folder
    path = Path(ref).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        return ("folder", path.parent) if path.name == "model_index.json" else ("file", path)
    if _looks_like_hub_id(ref):
        return "folder", _cached_hub_snapshot(ref)
    raise ModelLoadError(f"Model not found: {ref}. The file or folder does not exist (moved or renamed?).")


def _looks_like_hub_id(ref: str) -> bool:
    return (
        bool(_HUB_ID.match(ref)) and not ref.lower().endswith(CHECKPOINT_SUFFIXES) and not os.path.isabs(ref)
    )


def _cached_hub_snapshot(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo_id, cache_dir=str(hub_cache_dir()), local_files_only=True)
    except Exception as exc:  # LocalEntryNotFoundError, OfflineModeIsEnabled, bad ids, ...
        log.info("Hub id %s not in the local cache: %s", repo_id, exc)
        raise ModelLoadError(
            f'"{repo_id}" is not downloaded. Studio works offline and never downloads models: '
            "download it with another tool (it must be in the Hugging Face cache), or pick a "
            "model file or folder on this computer. (If you meant a file or folder: it does not exist.)"
        ) from exc
    return Path(folder)


# ---------------------------------------------------------------------------------------------
# Diffusers folders


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path.name} in {path.parent} could not be read ({exc}); the model folder is damaged."
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a valid model file; the model folder is damaged.")
    return data


def folder_family(folder: Path, index: dict) -> tuple[str, bool]:
    """(family, inpaint) of a diffusers folder from its configs (no weights read)."""
    class_name = str(index.get("_class_name", ""))
    if class_name not in _PIPELINE_CLASSES:
        raise ModelLoadError(
            f'{folder.name} is a "{class_name or "unknown"}" model, which Studio does not support. '
            "Studio runs Stable Diffusion 1.x, 2.x and SDXL models (and their inpainting versions)."
        )
    family, inpaint = _PIPELINE_CLASSES[class_name]
    unet_cfg_path = folder / "unet" / "config.json"
    unet_cfg = _read_json(unet_cfg_path) if unet_cfg_path.is_file() else {}
    if unet_cfg.get("in_channels") == 9:
        inpaint = True
    if family == "sd1" and unet_cfg.get("cross_attention_dim") == 1024:
        family = "sd2"
    return family, inpaint


def _pipeline_class(family: str, inpaint: bool) -> Any:
    import diffusers

    if family == "sdxl":
        return diffusers.StableDiffusionXLInpaintPipeline if inpaint else diffusers.StableDiffusionXLPipeline
    return diffusers.StableDiffusionInpaintPipeline if inpaint else diffusers.StableDiffusionPipeline


def _weights_variant(folder: Path) -> str | None:
    """ "fp16" when the unet ships only `*.fp16.*` weights (common for SDXL downloads)."""
    unet = folder / "unet"
    if not unet.is_dir():
        return None
    names = [p.name for p in unet.iterdir()]
    has_plain = any(n.startswith("diffusion_pytorch_model") and ".fp16." not in n for n in names)
    has_fp16 = any(".fp16." in n for n in names)
    return "fp16" if has_fp16 and not has_plain else None


def _load_folder(folder: Path, *, ref: str, dtype: Any, progress: Progress | None = None) -> LoadedModel:
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelLoadError(
            f"{folder} is not a diffusers model folder (model_index.json is missing). "
            "Pick the folder that contains model_index.json, or a .safetensors model file."
        )
    index = _read_json(index_path)
    family, inpaint = folder_family(folder, index)
    cls = _pipeline_class(family, inpaint)
    kwargs: dict[str, Any] = {"torch_dtype": dtype, "local_files_only": True}
    if family != "sdxl":
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    variant = _weights_variant(folder)
    if variant:
        kwargs["variant"] = variant
    try:
        pipe = cls.from_pretrained(str(folder), **kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        if is_out_of_memory(exc):
            raise  # the engine's out-of-memory handling (unload, tell the artist) applies
        log.exception("Loading diffusers folder %s failed", folder)
        raise ModelLoadError(
            f"The model in {folder} could not be loaded: {short(exc)}. "
            "The folder may be incomplete or damaged; download it again."
        ) from exc
    weights_file = _unet_weights_file(folder, variant)
    if progress is not None and not is_hash_cached(weights_file):
        progress(f"Computing the model hash of {folder.name} (first load only)")
    return LoadedModel(
        pipe=pipe,
        ref=ref,
        name=_display_name(folder),
        family=family,
        inpaint=inpaint,
        model_hash=model_hash_for(weights_file),
        folder=folder,
    )


def _display_name(folder: Path) -> str:
    # A Hub snapshot lives in .../models--org--name/snapshots/<sha>: name it after the repo.
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent.name[len("models--") :].replace("--", "/")
    return folder.name


def _unet_weights_file(folder: Path, variant: str | None = None) -> Path | None:
    """The UNet weights file that was loaded (its sha256 is the folder's model hash)."""
    unet = folder / "unet"
    if not unet.is_dir():
        return None
    infix = f".{variant}" if variant else ""
    for suffix in (".safetensors", ".bin"):
        exact = unet / f"diffusion_pytorch_model{infix}{suffix}"
        if exact.is_file():
            return exact
    shards = sorted(p for p in unet.glob("diffusion_pytorch_model*.safetensors") if p.is_file())
    return shards[0] if shards else None
