"""Typed events the engine publishes about jobs. They carry numpy/PIL data, never tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from studio.core.request import GenerationRequest


class FailureKind(str, Enum):
    INPUT = "input"  # the request or its images are not usable
    MODEL = "model"  # the model could not be found or loaded
    OUT_OF_MEMORY = "out_of_memory"
    NAN = "nan"  # the model produced NaN/inf (often fp16 overflow)
    INTERNAL = "internal"  # anything else: a bug


@dataclass(frozen=True)
class Event:
    job_id: int


@dataclass(frozen=True)
class Queued(Event):
    position: int  # 0 = next to run


@dataclass(frozen=True)
class Loading(Event):
    model: str
    message: str


@dataclass(frozen=True)
class ModelReady(Event):
    """A model became resident (job_id is 0 for a preload that was not part of a job)."""

    model: str
    device: str
    dtype: str
    seconds: float


@dataclass(frozen=True)
class Started(Event):
    total_steps: int
    batch: int


@dataclass(frozen=True)
class Step(Event):
    step: int  # 1-based, counts denoising steps (not model calls)
    total: int
    elapsed: float  # seconds since the job started running
    preview: np.ndarray | None = field(default=None, compare=False, repr=False)  # HxWx3 uint8
    preview_kind: str = "none"  # "x0", "latent" or "none"


@dataclass(frozen=True)
class Finished(Event):
    images: list[Image.Image] = field(compare=False, repr=False)
    seeds: list[int]
    request: GenerationRequest = field(compare=False, repr=False)
    elapsed: float
    parameters: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class Cancelled(Event):
    at_step: int  # last completed step, 0 if cancelled before the first


@dataclass(frozen=True)
class Failed(Event):
    kind: FailureKind
    message: str  # one or two sentences an artist can act on
    detail: str = ""  # traceback or technical detail for a "details" section


TERMINAL_EVENTS = (Finished, Cancelled, Failed)
