"""Saving results: every finished image becomes a PNG with metadata in the output folder at once.

Names are `YYYYMMDD-HHMMSS-<seed>.png`; an existing name gets `-2`, `-3`… Each PNG is encoded, written
to a temp file in the folder and then linked under its final name (`core.fileio.write_unique`): a
kill at any moment leaves a complete file or none, and an existing file is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from studio.core.events import Finished
from studio.core.fileio import numbered_names, write_unique
from studio.core.paths import BUILTIN_MODEL_ID
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedResult:
    path: Path
    image: Image.Image
    seed: int
    request: GenerationRequest


def result_names(seed: int, when: dt.datetime | None = None) -> Iterator[str]:
    """`YYYYMMDD-HHMMSS-<seed>.png`, then `...-2.png`, `...-3.png`, ..."""
    return numbered_names(f"{(when or dt.datetime.now()):%Y%m%d-%H%M%S}-{seed}", ".png", first=2)


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
    """Save every image of a finished job; raises the first error (OSError when the folder is not
    writable) after trying every image."""
    saved, errors = save_each(event, folder)
    if errors:
        raise errors[0]
    return saved


def save_each(event: Finished, folder: Path) -> tuple[list[SavedResult], list[Exception]]:
    """Save every image of a finished job, each on its own: one that fails does not stop the rest.
    Returns what was saved and what went wrong."""
    saved: list[SavedResult] = []
    errors: list[Exception] = []
    for index, image in enumerate(event.images):
        try:
            saved.append(_save_one(event, folder, index, image))
        except (OSError, ValueError) as exc:
            log.exception("Saving image %d of job %d failed", index + 1, event.job_id)
            errors.append(exc)
    return saved, errors


def _save_one(event: Finished, folder: Path, index: int, image: Image.Image) -> SavedResult:
    from studio.core.metadata import png_bytes

    seed = event.seeds[index] if index < len(event.seeds) else event.request.seed + index
    data = png_bytes(image, parameters_for(event, index))
    path = write_unique(folder, result_names(seed), data)  # complete under its name, or absent
    log.info("Saved %s", path)
    return SavedResult(path, image, seed, event.request.replace(seed=seed))


def recent_images(folder: Path, limit: int = 60) -> list[Path]:
    """The newest PNGs in the output folder, newest first."""
    try:
        entries = [p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file()]
    except OSError:
        return []
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return entries[:limit]
