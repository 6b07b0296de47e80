"""Load a single-file checkpoint (LDM / A1111 layout): read, detect, build, hash.

SD3 / Flux transformer files (``.safetensors`` / ``.gguf``) go to :mod:`studio.engine.loading.dit_file`.

See :mod:`studio.engine.loading.checkpoint` (reading), :mod:`studio.engine.loading.detect` (what the
file is) and :mod:`studio.engine.loading.build` (the pipeline from the converted weights).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from studio.engine.loading.build import build_pipeline
from studio.engine.loading.checkpoint import load_tensors, read_checkpoint
from studio.engine.loading.detect import FLOW, detect
from studio.engine.loading.dit_file import load_dit_file
from studio.engine.loading.loaded import LoadedModel, Progress, no_progress
from studio.engine.loading.model_hash import is_hash_cached, model_hash_for

log = logging.getLogger(__name__)


def load_single_file(path: Path, *, ref: str, dtype: Any, progress: Progress | None = None) -> LoadedModel:
    """Load an LDM-layout checkpoint into a pipeline on the CPU in ``dtype`` (a torch dtype).

    Raises :class:`~studio.engine.loading.errors.ModelLoadError`; the model is not yet on its device.
    """
    report = progress or no_progress
    ckpt = read_checkpoint(path)
    info = detect(ckpt)
    log.info("%s: %s", path.name, info.describe())
    if info.prediction_type == FLOW:  # SD3 / Flux: the transformer + a folder's other parts
        return load_dit_file(path, info, ref=ref, dtype=dtype, progress=progress)
    report(f"Reading weights of {path.name} ({info.describe()})")
    if ckpt.tensors is None:
        ckpt.tensors = load_tensors(ckpt)
    report(f"Building {info.describe()}")
    pipe = build_pipeline(info, ckpt.tensors, dtype)
    ckpt.tensors = None
    if not is_hash_cached(path):
        report(f"Computing the model hash of {path.name} (first load only)")
    return LoadedModel(
        pipe=pipe,
        ref=ref,
        name=path.stem,
        family=info.family,
        inpaint=info.inpaint,
        model_hash=model_hash_for(path),
        folder=None,
    )
