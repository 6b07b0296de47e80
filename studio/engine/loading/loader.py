"""``load_pipeline``: a model reference -> a pipeline on its device (the loader's top layer)."""

from __future__ import annotations

import logging
import os
from typing import Any

from studio.core.model_catalog import BUILTIN_NAME
from studio.engine.device import is_out_of_memory
from studio.engine.loading.checkpoint import read_checkpoint
from studio.engine.loading.detect import FLOW, detect
from studio.engine.loading.dit_file import components_folder
from studio.engine.loading.errors import ModelLoadError, short
from studio.engine.loading.folder import check_folder, folder_family, load_folder
from studio.engine.loading.loaded import LoadedModel, Progress, no_progress
from studio.engine.loading.resolve import resolve_ref
from studio.engine.loading.single_file import load_single_file

log = logging.getLogger(__name__)


def check_ref(ref: str) -> None:
    """The checks that need no weights: the reference exists, a folder has every component folder,
    an SD3 / Flux transformer file has a folder with its other parts.

    Raises :class:`ModelLoadError` (so a bad choice fails before the resident model is unloaded).
    """
    kind, path = resolve_ref(ref)
    if kind == "folder":
        check_folder(path)
    elif path.suffix.lower() in (".safetensors", ".gguf"):
        try:
            info = detect(read_checkpoint(path))  # the header only
        except ModelLoadError:
            return  # loading it says what is wrong (as before)
        if info.prediction_type == FLOW:
            components_folder(path, info)


def ref_family(ref: str) -> str:
    """The family of ``ref`` from its configs or header alone ("" when that does not tell: a pickled
    checkpoint, a damaged file); never raises."""
    try:
        kind, path = resolve_ref(ref)
        if kind == "folder":
            return folder_family(path, check_folder(path))[0]
        if path.suffix.lower() in (".safetensors", ".gguf"):
            return detect(read_checkpoint(path)).family
    except ModelLoadError:
        pass
    return ""


def load_pipeline(ref: str, *, device: str, dtype: Any, progress: Progress | None = None) -> LoadedModel:
    """Load ``ref`` onto ``device`` in ``dtype`` (a torch dtype). Raises :class:`ModelLoadError`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = progress or no_progress
    kind, path = resolve_ref(ref)
    if kind == "file":
        report(f"Reading {path.name}")
        loaded = load_single_file(path, ref=ref, dtype=dtype, progress=report)
    else:
        report(f"Loading {path.name}")
        loaded = load_folder(path, ref=ref, dtype=dtype, progress=report)
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
