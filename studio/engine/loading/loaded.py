"""What a loader returns: the pipeline and what Studio needs to know about it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]
"""Receives short human messages ("Reading model.safetensors") while a model loads."""


def no_progress(_message: str) -> None:
    """A :data:`Progress` that ignores every message."""


@dataclass
class LoadedModel:
    pipe: Any  # a diffusers StableDiffusion(XL)(Inpaint)Pipeline
    ref: str
    name: str
    family: str  # "sd1" | "sd2" | "sdxl"
    inpaint: bool
    model_hash: str
    folder: Path | None
