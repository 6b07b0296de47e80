"""Load a diffusers model folder (``model_index.json`` + one sub-folder per component), offline.

Supported: Stable Diffusion 1.x / 2.x, their inpainting versions, SDXL base and SDXL inpainting, and
the diffusion transformers SD3 / SD3.5 (``StableDiffusion3Pipeline``) and Flux dev / schnell
(``FluxPipeline``) with their own text encoders (CLIP-L/G, T5) and tokenizers from the folder.
The family is read from the configs before any weights are touched; the model hash is the one of the
UNet (or transformer) weights file (as A1111 shows for a checkpoint).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from studio.engine.device import is_out_of_memory
from studio.engine.loading.errors import ModelLoadError, short
from studio.engine.loading.loaded import LoadedModel, Progress
from studio.engine.loading.model_hash import is_hash_cached, model_hash_for

log = logging.getLogger(__name__)

# model_index.json `_class_name` -> (family, inpaint) for the pipelines Studio runs.
_PIPELINE_CLASSES: dict[str, tuple[str, bool]] = {
    "StableDiffusionPipeline": ("sd1", False),
    "StableDiffusionImg2ImgPipeline": ("sd1", False),
    "StableDiffusionInpaintPipeline": ("sd1", True),
    "StableDiffusionXLPipeline": ("sdxl", False),
    "StableDiffusionXLImg2ImgPipeline": ("sdxl", False),
    "StableDiffusionXLInpaintPipeline": ("sdxl", True),
    "StableDiffusion3Pipeline": ("sd3", False),
    "StableDiffusion3Img2ImgPipeline": ("sd3", False),
    "StableDiffusion3InpaintPipeline": ("sd3", False),
    "FluxPipeline": ("flux", False),
    "FluxImg2ImgPipeline": ("flux", False),
    "FluxInpaintPipeline": ("flux", False),
}
_DIT_PIPELINES = {"sd3": "StableDiffusion3Pipeline", "flux": "FluxPipeline"}


def load_folder(
    folder: Path,
    *,
    ref: str,
    dtype: Any,
    progress: Progress | None = None,
    components: dict[str, Any] | None = None,
    weights_file: Path | None = None,
) -> LoadedModel:
    """Load the diffusers folder ``folder`` on the CPU in ``dtype`` (a torch dtype).

    ``components`` replace the folder's own (a transformer from a single file, whose path is then
    ``weights_file``: the model hash and name come from it)."""
    index = check_folder(folder, provided=set(components or {}))
    family, inpaint = folder_family(folder, index)
    variant = _weights_variant(folder)
    kwargs = {**_load_kwargs(family, dtype, variant), **(components or {})}
    pipe = _from_pretrained(folder, _pipeline_class(family, inpaint), kwargs)
    weights_file = weights_file or _unet_weights_file(folder, variant)
    if progress is not None and not is_hash_cached(weights_file):
        progress(f"Computing the model hash of {folder.name} (first load only)")
    return LoadedModel(
        pipe=pipe,
        ref=ref,
        name=weights_file.stem if components and weights_file else _display_name(folder),
        family=family,
        inpaint=inpaint,
        model_hash=model_hash_for(weights_file),
        folder=folder,
    )


def check_folder(folder: Path, provided: set[str] | None = None) -> dict[str, Any]:
    """The folder's model_index.json; ModelLoadError if it or a component folder it names is missing
    (those in ``provided`` may be: they come from elsewhere)."""
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise ModelLoadError(
            f"{folder} is not a diffusers model folder (model_index.json is missing). "
            "Pick the folder that contains model_index.json, or a .safetensors model file."
        )
    index = read_json(index_path)
    missing = [
        name
        for name, spec in index.items()
        if _names_a_component(spec) and not (folder / name).is_dir() and name not in (provided or set())
    ]
    if missing:
        listed = ", ".join(f"{name}/" for name in missing)
        verb = "is" if len(missing) == 1 else "are"
        raise ModelLoadError(
            f"{folder.name} is not a complete Stable Diffusion model: {listed} {verb} missing, so "
            "the copy is incomplete or damaged. Copy the whole model folder again, or use a single "
            ".safetensors model file."
        )
    return index


def _names_a_component(spec: object) -> bool:
    """A model_index.json entry like ["diffusers", "UNet2DConditionModel"] (not null, not "_class_name")."""
    return isinstance(spec, list) and len(spec) == 2 and all(isinstance(s, str) for s in spec)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelLoadError(
            f"{path.name} in {path.parent} could not be read ({exc}); the model folder is damaged."
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} is not a valid model file; the model folder is damaged.")
    return data


def folder_family(folder: Path, index: dict[str, Any]) -> tuple[str, bool]:
    """(family, inpaint) of a diffusers folder from its configs (no weights read)."""
    class_name = str(index.get("_class_name", ""))
    if class_name not in _PIPELINE_CLASSES:
        raise ModelLoadError(
            f'{folder.name} is a "{class_name or "unknown"}" model, which Studio does not support. '
            "Studio runs Stable Diffusion 1.x, 2.x and SDXL models (and their inpainting versions), SD3 / SD3.5 and Flux."
        )
    family, inpaint = _PIPELINE_CLASSES[class_name]
    unet_cfg_path = folder / "unet" / "config.json"
    unet_cfg = read_json(unet_cfg_path) if unet_cfg_path.is_file() else {}
    if unet_cfg.get("in_channels") == 9:
        inpaint = True
    if family == "sd1" and unet_cfg.get("cross_attention_dim") == 1024:
        family = "sd2"
    return family, inpaint


def _pipeline_class(family: str, inpaint: bool) -> Any:
    import diffusers

    if family in _DIT_PIPELINES:
        return getattr(diffusers, _DIT_PIPELINES[family])
    if family == "sdxl":
        return diffusers.StableDiffusionXLInpaintPipeline if inpaint else diffusers.StableDiffusionXLPipeline
    return diffusers.StableDiffusionInpaintPipeline if inpaint else diffusers.StableDiffusionPipeline


def _load_kwargs(family: str, dtype: Any, variant: str | None) -> dict[str, Any]:
    """``from_pretrained`` arguments: offline, in ``dtype`` (``torch_dtype=`` is deprecated in diffusers 0.42)."""
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if family in ("sd1", "sd2"):
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    if variant:
        kwargs["variant"] = variant
    return kwargs


def _from_pretrained(folder: Path, cls: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return cls.from_pretrained(str(folder), **kwargs)
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


def _denoiser_folder(folder: Path) -> Path:
    """``unet/``, or ``transformer/`` for SD3 / Flux."""
    return folder / "unet" if (folder / "unet").is_dir() else folder / "transformer"


def _weights_variant(folder: Path) -> str | None:
    """ "fp16" when the unet ships only `*.fp16.*` weights (common for SDXL downloads)."""
    unet = _denoiser_folder(folder)
    if not unet.is_dir():
        return None
    names = [p.name for p in unet.iterdir()]
    has_plain = any(n.startswith("diffusion_pytorch_model") and ".fp16." not in n for n in names)
    has_fp16 = any(".fp16." in n for n in names)
    return "fp16" if has_fp16 and not has_plain else None


def _display_name(folder: Path) -> str:
    # A Hub snapshot lives in .../models--org--name/snapshots/<sha>: name it after the repo.
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent.name[len("models--") :].replace("--", "/")
    return folder.name


def _unet_weights_file(folder: Path, variant: str | None = None) -> Path | None:
    """The UNet weights file that was loaded (its sha256 is the folder's model hash)."""
    unet = _denoiser_folder(folder)
    if not unet.is_dir():
        return None
    infix = f".{variant}" if variant else ""
    for suffix in (".safetensors", ".bin"):
        exact = unet / f"diffusion_pytorch_model{infix}{suffix}"
        if exact.is_file():
            return exact
    shards = sorted(p for p in unet.glob("diffusion_pytorch_model*.safetensors") if p.is_file())
    return shards[0] if shards else None
