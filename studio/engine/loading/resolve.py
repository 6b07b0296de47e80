"""Resolve a model reference to a folder or a file on this computer, never touching the network.

A reference is ``""`` (the built-in model), a diffusers folder (or its ``model_index.json``), a
single checkpoint file, or a Hub id that is already in the local Hugging Face cache.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Literal

from studio.core.model_catalog import hub_cache_dir
from studio.core.paths import builtin_model_dir
from studio.engine.loading.errors import ModelLoadError

log = logging.getLogger(__name__)

RefKind = Literal["folder", "file"]

CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def resolve_ref(ref: str) -> tuple[RefKind, Path]:
    """Return ("folder" | "file", path) for ``ref``; Hub ids resolve to their cached snapshot."""
    if ref == "":
        return "folder", _builtin_folder()
    path = Path(ref).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        return ("folder", path.parent) if path.name == "model_index.json" else ("file", path)
    if looks_like_hub_id(ref):
        return "folder", cached_hub_snapshot(ref)
    raise ModelLoadError(f"Model not found: {ref}. The file or folder does not exist (moved or renamed?).")


def _builtin_folder() -> Path:
    folder = builtin_model_dir()
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"The built-in model is not installed (expected it in {folder}). "
            "Reinstall Studio, or pick another model in the model list."
        )
    return folder


def looks_like_hub_id(ref: str) -> bool:
    return (
        bool(_HUB_ID.match(ref)) and not ref.lower().endswith(CHECKPOINT_SUFFIXES) and not os.path.isabs(ref)
    )


def cached_hub_snapshot(repo_id: str) -> Path:
    """The folder of ``repo_id`` in the local Hugging Face cache (``local_files_only``: no download)."""
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
