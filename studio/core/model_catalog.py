"""Which models are on this computer (pure Python: no torch, nothing is loaded).

``find_models(dirs)`` lists, in this order:
1. the built-in model (ref ``""``) when it is installed;
2. per folder in ``dirs``: the folder itself if it is a diffusers model, else diffusers folders
   (with ``model_index.json``) and ``.safetensors`` / ``.ckpt`` / ``.gguf`` files directly in it or
   one level down (A1111-style ``models/Stable-diffusion/*.safetensors``), sorted by name. Files
   inside a diffusers folder are never listed; ``.safetensors`` whose header shows they are neither a
   full Stable Diffusion checkpoint nor an SD3 / Flux transformer (LoRA, VAE, embedding, ...) are
   skipped;
3. Hub models already in the local Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or
   ``~/.cache/huggingface/hub``) whose snapshot has a ``model_index.json`` and UNet (or SD3 / Flux
   transformer) weights.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from studio.core.jsontext import parse_json
from studio.core.paths import builtin_model_dir

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".gguf")  # .gguf: quantised SD3 / Flux transformers
_UNET_CONV_IN = "model.diffusion_model.input_blocks.0.0.weight"
# SD3 / Flux transformers, original layout (with or without the model.diffusion_model. prefix) or
# diffusers' names (studio.engine.loading.detect.detect_dit decides which)
_DIT_PREFIXES = ("joint_blocks.", "double_blocks.", "single_transformer_blocks.", "pos_embed.pos_embed")
_MAX_HEADER = 100 * 1024 * 1024
BUILTIN_NAME = "Built-in (studio-mini)"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    ref: str  # what `load_pipeline` takes: "" (built-in), a path, or a Hub id
    kind: str  # "builtin" | "diffusers" | "checkpoint" | "hub"


def find_models(
    dirs: Iterable[str | Path], *, hub_cache: Path | None = None, include_hub: bool = True
) -> list[ModelEntry]:
    entries: list[ModelEntry] = []
    if is_diffusers_folder(builtin_model_dir()):
        entries.append(ModelEntry(BUILTIN_NAME, "", "builtin"))
    seen: set[Path] = set()
    for d in dirs:
        for entry in _scan_dir(Path(d).expanduser()):
            key = Path(entry.ref).resolve()
            if key not in seen:
                seen.add(key)
                entries.append(entry)
    if include_hub:
        entries.extend(find_cached_hub_models(hub_cache))
    return entries


def is_diffusers_folder(path: Path) -> bool:
    return (path / "model_index.json").is_file()


def _scan_dir(folder: Path) -> list[ModelEntry]:
    if not folder.is_dir():
        return []
    if is_diffusers_folder(folder):
        return [ModelEntry(folder.name, str(folder), "diffusers")]
    found: list[ModelEntry] = []
    for child in _children(folder):
        if child.is_dir():
            if is_diffusers_folder(child):
                found.append(ModelEntry(child.name, str(child), "diffusers"))
                continue
            for grandchild in _children(child):
                found.extend(_entry_for(grandchild, nested_dirs=True))
        else:
            found.extend(_entry_for(child, nested_dirs=False))
    return found


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(
            (p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: p.name.lower()
        )
    except OSError:
        log.warning("Cannot list %s", folder, exc_info=True)
        return []


def _entry_for(path: Path, *, nested_dirs: bool) -> list[ModelEntry]:
    if path.is_dir():
        return (
            [ModelEntry(path.name, str(path), "diffusers")]
            if nested_dirs and is_diffusers_folder(path)
            else []
        )
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        return []
    if not path.is_file():  # a FIFO, socket or device named *.safetensors: never opened (it would block)
        log.info("Skipped %s: not a regular file", path)
        return []
    if path.suffix.lower() == ".safetensors" and not looks_like_full_checkpoint(path):
        return []
    return [ModelEntry(path.stem, str(path), "checkpoint")]


def safetensors_header(path: str | Path, max_bytes: int = _MAX_HEADER) -> dict[str, object] | None:
    """The JSON header of a .safetensors file (no tensor data read), or None when it cannot be read
    (missing, too short, longer than `max_bytes`, not JSON, not an object)."""
    try:
        with open(path, "rb") as fh:
            raw_len = fh.read(8)
            if len(raw_len) < 8:
                return None
            (length,) = struct.unpack("<Q", raw_len)
            if length > max_bytes:
                return None
            header = parse_json(fh.read(length).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def safetensors_keys(path: Path) -> list[str] | None:
    """Tensor names from a .safetensors header, or None when the header cannot be read."""
    header = safetensors_header(path)
    return [k for k in header if k != "__metadata__"] if header is not None else None


def looks_like_full_checkpoint(path: Path) -> bool:
    """False only for a readable header without an SD UNet or an SD3 / Flux transformer (LoRA, VAE,
    embedding, ...).

    Unreadable files stay listed so that loading them explains what is wrong.
    """
    keys = safetensors_keys(path)
    return keys is None or _UNET_CONV_IN in keys or _is_dit_transformer(keys)


def _is_dit_transformer(keys: list[str]) -> bool:
    return any(k.removeprefix("model.diffusion_model.").startswith(_DIT_PREFIXES) for k in keys)


def hub_cache_dir() -> Path:
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return Path(env).expanduser()
    home = os.environ.get("HF_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".cache" / "huggingface"
    return base / "hub"


def find_cached_hub_models(cache: Path | None = None) -> list[ModelEntry]:
    cache = cache or hub_cache_dir()
    if not cache.is_dir():
        return []
    found: list[ModelEntry] = []
    for repo in sorted(cache.glob("models--*"), key=lambda p: p.name.lower()):
        snapshot = _main_snapshot(repo)
        if snapshot is not None and is_diffusers_folder(snapshot) and _has_unet_weights(snapshot):
            repo_id = repo.name[len("models--") :].replace("--", "/")
            found.append(ModelEntry(repo_id, repo_id, "hub"))
    return found


def _main_snapshot(repo: Path) -> Path | None:
    ref = repo / "refs" / "main"
    try:
        commit = ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def _has_unet_weights(folder: Path) -> bool:
    """UNet weights, or the transformer's of an SD3 / Flux folder."""
    for part in ("unet", "transformer"):
        weights = folder / part
        if weights.is_dir() and any(p.name.startswith("diffusion_pytorch_model") for p in weights.iterdir()):
            return True
    return False
