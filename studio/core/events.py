"""Typed events the engine publishes about jobs (numpy/PIL data, never tensors), and `JobHandle`,
what `submit` returns: one job's id, its cancel, and its events only.

Event order for a job: Queued -> Loading* -> ModelReady? -> Started(plan, warnings) -> Step(1..n) ->
Finished | Cancelled | Failed (Queued may repeat as jobs ahead leave the queue; a job cancelled or
failed early ends sooner; a request rejected at submit has only Failed; a job retried in a
lower GPU memory mode after running out of memory has Started(plan, warnings) -> Step... again).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from studio.core.request import PreviewKind

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from studio.core.plan import GenerationPlan
    from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


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
    native_size: int = 0  # the side in pixels the model was trained at (0: unknown)
    ref: str = ""  # what was asked for ("" = built-in; `model` is its display name)
    # the GPU memory mode it runs in ("full", "vae", "model_offload", "sequential"; "" off CUDA)
    memory_mode: str = ""


@dataclass(frozen=True)
class Started(Event):
    """The job starts denoising; `plan` is exactly what the engine runs (`studio.core.plan.plan`).

    `warnings`: what the artist should know about this run, which still goes ahead (a prompt longer
    than the model reads: `studio.core.prompt_length`); shown as warnings, never as errors."""

    plan: GenerationPlan = field(compare=False, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def total_steps(self) -> int:
        return self.plan.total_steps

    @property
    def batch(self) -> int:
        return self.plan.batch


@dataclass(frozen=True)
class Step(Event):
    step: int  # 1-based, counts denoising steps (not model calls)
    total: int
    elapsed: float  # seconds since the job started running
    preview: np.ndarray | None = field(default=None, compare=False, repr=False)  # HxWx3 uint8
    preview_kind: PreviewKind = PreviewKind.NONE  # NONE when `preview` is None
    # every image of the batch (previews[0] is `preview`); empty when there is no preview
    previews: tuple[np.ndarray, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class Finished(Event):
    images: list[Image.Image] = field(compare=False, repr=False)
    seeds: list[int]
    request: GenerationRequest = field(compare=False, repr=False)
    elapsed: float
    parameters: list[dict[str, object]] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True)
class Cancelled(Event):
    at_step: int  # last completed step, 0 if cancelled before the first


@dataclass(frozen=True)
class Failed(Event):
    kind: FailureKind
    message: str  # one or two sentences an artist can act on
    detail: str = ""  # traceback or technical detail for a "details" section


TERMINAL_EVENTS = (Finished, Cancelled, Failed)
Outcome = Finished | Cancelled | Failed
Subscriber = Callable[[Event], None]


class JobHandle:
    """One submitted job: `id`, `request` (as checked at submit), `cancel()`, and its events only.

    Thread-safe. Engines create it in `submit` and pass it each of the job's events (`deliver`, on
    their publisher thread). `subscribe(callback)` first replays the events so far (on the caller's
    thread; of the step events only the newest), then passes each new one as it is delivered; a
    callback that raises is logged and still gets the later events. A request that cannot run is
    rejected at submit: the handle is then already done, `rejection` is its `Failed(kind=INPUT)`.
    """

    def __init__(self, job_id: int, request: GenerationRequest, cancel: Callable[[int], bool]) -> None:
        self.id = job_id
        self.request = request
        self._cancel = cancel
        self._cond = threading.Condition(threading.RLock())
        self._events: list[Event] = []
        self._subscribers: list[Subscriber] = []
        self._outcome: Outcome | None = None
        self._plan: GenerationPlan | None = None
        self._rejection: Failed | None = None
        self._preview_kind = request.preview

    def __repr__(self) -> str:
        return f"<JobHandle {self.id} {'done' if self.done else 'open'}>"

    # -- for everyone -----------------------------------------------------------------------------
    def cancel(self) -> bool:
        """Cancel the job: a queued one is removed (`Cancelled(at_step=0)`), a running one stops
        within a step without decoding. False if it had already ended."""
        return not self.done and bool(self._cancel(self.id))

    def set_preview_kind(self, kind: PreviewKind) -> None:
        """Switch the kind of the live previews; a running job uses it from its next preview on."""
        with self._cond:
            self._preview_kind = PreviewKind(kind)

    @property
    def preview_kind(self) -> PreviewKind:
        """The preview kind the job shows now (the request's until `set_preview_kind`)."""
        with self._cond:
            return self._preview_kind

    def subscribe(self, callback: Subscriber) -> None:
        """Replay this job's events so far to `callback`, then pass it each new one, in order."""
        with self._cond:
            for event in self._events:
                self._call(callback, event)
            self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._cond:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    def wait(self, timeout: float | None = None) -> Outcome | None:
        """Block until the job ends; its terminal event, or None if `timeout` seconds passed first."""
        with self._cond:
            self._cond.wait_for(lambda: self._outcome is not None, timeout)
            return self._outcome

    @property
    def done(self) -> bool:
        with self._cond:
            return self._outcome is not None

    @property
    def outcome(self) -> Outcome | None:
        """Finished, Cancelled or Failed once the job has ended; None before."""
        with self._cond:
            return self._outcome

    @property
    def plan(self) -> GenerationPlan | None:
        """The plan from the job's Started event (None before it started)."""
        with self._cond:
            return self._plan

    @property
    def rejection(self) -> Failed | None:
        """The Failed(kind=INPUT) of a request rejected at submit (never queued); None otherwise."""
        with self._cond:
            return self._rejection

    # -- for engines ------------------------------------------------------------------------------
    def reject(self, message: str) -> Failed:
        """End the job at submit with Failed(kind=INPUT, message); returns that event."""
        failed = Failed(self.id, FailureKind.INPUT, message)
        with self._cond:
            self._rejection = failed
            self.deliver(failed)
        return failed

    def deliver(self, event: Event) -> None:
        """Record one of this job's events and pass it to the subscribers (in order, one at a time)."""
        if event.job_id != self.id:
            raise ValueError(f"Event of job {event.job_id} delivered to job {self.id}")
        with self._cond:
            if isinstance(event, Step) and self._events and isinstance(self._events[-1], Step):
                self._events[-1] = event  # replay only the newest step (previews are large)
            else:
                self._events.append(event)
            if isinstance(event, Started):
                self._plan = event.plan
            if isinstance(event, Finished | Cancelled | Failed):
                self._outcome = event
                self._cond.notify_all()
            for callback in list(self._subscribers):
                self._call(callback, event)

    @staticmethod
    def _call(callback: Subscriber, event: Event) -> None:
        try:
            callback(event)
        except Exception:
            log.exception("A subscriber failed on %r", event)


def deliver_queued_events(
    events: queue.SimpleQueue[tuple[Event, JobHandle | None] | object], publish: Callable[[Event], None]
) -> None:
    """An engine's publisher thread: each queued `(event, handle)` goes first to the engine-wide
    `publish` (its errors logged), then to its job's handle (None: preloads, rejections); anything
    that is not such a pair (the engine's stop marker) ends the loop. Shared by the local and the
    remote engine, so both deliver in the same order."""
    while True:
        item = events.get()
        if not isinstance(item, tuple):
            return
        event, handle = item
        try:
            publish(event)
        except Exception:
            log.exception("Event subscriber failed on %r", event)
        if handle is not None:
            handle.deliver(event)  # logs its own subscribers' errors
