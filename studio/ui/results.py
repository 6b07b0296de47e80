"""Saving results: every finished image becomes a PNG with metadata in the output folder at once.

Names are `YYYYMMDD-HHMMSS-<seed>.png`; an existing name gets `-2`, `-3`… and the name is reserved
with an exclusive create before the atomic write, so a file is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from studio.core.events import Finished
from studio.core.paths import BUILTIN_MODEL_ID
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedResult:
    path: Path
    image: Image.Image
    seed: int
    request: GenerationRequest


def reserve_path(folder: Path, seed: int, when: dt.datetime | None = None) -> Path:
    """Create and return an empty, new file named after the date and seed (never an existing one)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{(when or dt.datetime.now()):%Y%m%d-%H%M%S}-{seed}"
    for n in range(1, 10_000):
        path = folder / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise OSError(f"No free file name for {stem} in {folder}")


def model_name(ref: str) -> str:
    return Path(ref).stem if ref else BUILTIN_MODEL_ID


def parameters_for(event: Finished, index: int) -> dict[str, object]:
    """The engine's parameters for image `index`, or ones built from the request."""
    if index < len(event.parameters) and event.parameters[index]:
        return dict(event.parameters[index])
    from studio.core.metadata import build_parameters

    seed = event.seeds[index]
    return build_parameters(event.request.replace(seed=seed), seed, model_name(event.request.model), "")


def save_finished(event: Finished, folder: Path) -> list[SavedResult]:
    """Save every image of a finished job; raises OSError when the folder is not writable."""
    from studio.core.metadata import save_png

    saved = []
    for index, image in enumerate(event.images):
        seed = event.seeds[index] if index < len(event.seeds) else event.request.seed + index
        path = reserve_path(folder, seed)
        try:
            path = Path(save_png(image, path, parameters_for(event, index)))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        log.info("Saved %s", path)
        saved.append(SavedResult(path, image, seed, event.request.replace(seed=seed)))
    return saved


def recent_images(folder: Path, limit: int = 60) -> list[Path]:
    """The newest PNGs in the output folder, newest first."""
    try:
        entries = [p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file()]
    except OSError:
        return []
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return entries[:limit]
