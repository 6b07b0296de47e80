"""The artist's own files in their folders: LoRAs, textual inversion embeddings, VAEs and control models
(pure Python, nothing is opened or loaded).

Each finder lists the files directly in the given folders, sorted by name per folder, the first of
a name winning (the user data folder comes first). Hidden files and anything that is not a regular
file (a FIFO or device named ``x.safetensors`` would block when read) are skipped, like the model scan.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from studio.core.control import ControlKind
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)

LORA_SUFFIXES = (".safetensors",)
EMBEDDING_SUFFIXES = (".safetensors", ".pt", ".bin")
VAE_SUFFIXES = (".safetensors",)
CONTROL_SUFFIXES = (".safetensors", ".bin")
UPSCALER_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")  # read by engine.upscale (weights only)
_DIFFUSERS_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


def find_loras(dirs: Iterable[str | Path]) -> list[Path]:
    """LoRA / LyCORIS files (`.safetensors`); their stems are the names `<lora:name:w>` uses."""
    return _find_files(dirs, LORA_SUFFIXES)


def find_embeddings(dirs: Iterable[str | Path]) -> list[Path]:
    """Embedding files (A1111 `.pt`, `.safetensors`, diffusers `.bin`); used by their stem in a prompt."""
    return _find_files(dirs, EMBEDDING_SUFFIXES)


def find_upscalers(dirs: Iterable[str | Path]) -> list[Path]:
    """Model upscalers (ESRGAN and the other families spandrel reads); their stems are the names
    the hires fix and "Upscale…" offer (A1111's `Hires upscaler: 4x-UltraSharp`)."""
    return _find_files(dirs, UPSCALER_SUFFIXES)


def find_vaes(dirs: Iterable[str | Path]) -> list[Path]:
    """Single-file VAEs (`.safetensors`) and diffusers VAE folders (a `config.json` and weights)."""
    found: dict[str, Path] = {}
    for folder in dirs:
        for child in _children(Path(folder).expanduser()):
            if _is_vae_folder(child) or _is_regular(child, VAE_SUFFIXES):
                found.setdefault(child.name, child)
    return list(found.values())


def find_control_models(dirs: Iterable[str | Path]) -> list[Path]:
    """ControlNet, T2I-Adapter and IP-Adapter models: single files (`.safetensors`, `.bin`) and
    diffusers folders (a `config.json` and `diffusion_pytorch_model.*`). A CLIP image encoder folder
    (`model.safetensors`) is not a control model and is left out."""
    found: dict[str, Path] = {}
    for folder in dirs:
        for child in _children(Path(folder).expanduser()):
            if _is_diffusers_folder(child) or _is_regular(child, CONTROL_SUFFIXES):
                found.setdefault(child.name, child)
    return list(found.values())


def guess_control_kind(path: str | Path) -> ControlKind:
    """The control type a model's name suggests (`ip-adapter_sd15`, `t2iadapter_canny`, ...):
    used to offer it first for that type, never to refuse it."""
    name = Path(path).name.lower().replace("-", "").replace("_", "")
    if "ipadapter" in name:
        return ControlKind.IP_ADAPTER
    if "t2i" in name or ("adapter" in name and "controlnet" not in name):
        return ControlKind.T2I_ADAPTER
    return ControlKind.CONTROLNET


def _find_files(dirs: Iterable[str | Path], suffixes: tuple[str, ...]) -> list[Path]:
    found: dict[str, Path] = {}
    for folder in dirs:
        for child in _children(Path(folder).expanduser()):
            if _is_regular(child, suffixes):
                found.setdefault(child.stem, child)
    return list(found.values())


def _is_regular(path: Path, suffixes: tuple[str, ...]) -> bool:
    if path.suffix.lower() not in suffixes:
        return False
    if not path.is_file():  # a folder, FIFO, socket or device: never opened
        if not path.is_dir():
            log.info("Skipped %s: not a regular file", path)
        return False
    return True


def _is_vae_folder(path: Path) -> bool:
    return _is_diffusers_folder(path)


def _is_diffusers_folder(path: Path) -> bool:
    if not path.is_dir() or not (path / "config.json").is_file():
        return False
    return any((path / name).is_file() for name in _DIFFUSERS_WEIGHTS)


def _children(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    try:
        return sorted(
            (p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name.lower()
        )
    except OSError:
        log.warning("Cannot list %s", folder, exc_info=True)
        return []


def without_named_file(message: str, request: GenerationRequest) -> tuple[str, GenerationRequest] | None:
    """When a failure `message` names one of the request's LoRAs, its VAE or a control model: (that
    file's name, the request without it), for a "Run without ..." offer; else None. Embeddings (words in the prompt)
    are not taken out: the artist edits the prompt."""
    for lora in request.loras:
        path = Path(lora.name)
        if any(text and text in message for text in {lora.name, path.name, path.stem}):
            rest = tuple(other for other in request.loras if other is not lora)
            return path.stem or lora.name, request.replace(loras=rest)
    if request.vae:
        vae = Path(request.vae)
        if request.vae in message or (vae.name and vae.name in message):
            return vae.name, request.replace(vae="")
    for unit in request.controls:
        if unit.model and (unit.model in message or (unit.model_name and unit.model_name in message)):
            kept = tuple(other for other in request.controls if other is not unit)
            return unit.model_name, request.replace(controls=kept)
    return None
