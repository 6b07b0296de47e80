"""Engine events -> Qt signals on the GUI thread.

The engine calls `publish(event)` on its own thread. The bridge (a QObject living on the GUI thread)
appends the event to a lock-protected pending list and wakes itself through a queued signal; the GUI
thread then drains the list and re-emits typed Qt signals. Step previews are coalesced: only the
newest pending Step of a job is kept (latest wins), so a slow GUI never builds a backlog.

The engine itself is created lazily by a factory (importing `studio.engine.engine` must stay off the
path to the first window), and every command reaches it through the bridge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot

from studio.core.events import (
    TERMINAL_EVENTS,
    Cancelled,
    Event,
    Failed,
    Finished,
    Loading,
    ModelReady,
    Queued,
    Started,
    Step,
)
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    def start(self) -> None: ...
    def submit(self, request: GenerationRequest) -> int: ...
    def cancel(self, job_id: int) -> None: ...
    def preload(self, ref: str) -> None: ...
    def shutdown(self, timeout: float = 10.0) -> None: ...


EngineFactory = Callable[[Callable[[Event], None]], EngineLike]


class EngineBridge(QObject):
    """Owns the engine; exposes its events as Qt signals (all emitted on the GUI thread)."""

    event = Signal(object)  # every event, after the typed signal
    queued = Signal(object)  # Queued
    loading = Signal(object)  # Loading
    model_ready = Signal(object)  # ModelReady
    started = Signal(object)  # Started
    step = Signal(object)  # Step (coalesced: the newest pending one per job)
    finished = Signal(object)  # Finished
    cancelled = Signal(object)  # Cancelled
    failed = Signal(object)  # Failed
    engine_started = Signal()
    _wake = Signal()

    def __init__(self, engine_factory: EngineFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = engine_factory
        self._engine: EngineLike | None = None
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._wake_scheduled = False
        self._done_jobs: set[int] = set()
        self.dropped_previews = 0
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # -- engine lifecycle and commands (GUI thread) -----------------------------------------------
    @property
    def engine(self) -> EngineLike | None:
        return self._engine

    def ensure_engine(self) -> EngineLike:
        if self._engine is None:
            log.info("Starting the engine")
            self._engine = self._factory(self.publish)
            self._engine.start()
            self.engine_started.emit()
        return self._engine

    def submit(self, request: GenerationRequest) -> int:
        return self.ensure_engine().submit(request)

    def cancel(self, job_id: int) -> None:
        if self._engine is not None:
            self._engine.cancel(job_id)

    def preload(self, ref: str) -> None:
        self.ensure_engine().preload(ref)

    def shutdown(self, timeout: float = 10.0) -> None:
        if self._engine is not None:
            self._engine.shutdown(timeout)
            self._engine = None
            self._done_jobs.clear()

    # -- engine thread side -----------------------------------------------------------------------
    def publish(self, event: Event) -> None:
        """Thread-safe: called by the engine on its thread. Never touches Qt widgets."""
        with self._lock:
            if isinstance(event, Step) and not self._coalesce(event):
                return
            self._pending.append(event)
            if self._wake_scheduled:
                return
            self._wake_scheduled = True
        self._wake.emit()

    def _coalesce(self, step: Step) -> bool:
        """Drop the job's pending preview that `step` supersedes; False if `step` itself is late."""
        for i in range(len(self._pending) - 1, -1, -1):
            old = self._pending[i]
            if old.job_id != step.job_id:
                continue
            if isinstance(old, Step):
                del self._pending[i]
                self.dropped_previews += 1
                return True
            if isinstance(old, TERMINAL_EVENTS):
                self.dropped_previews += 1
                return False
            return True  # a newer non-preview event of the job: keep the order, keep both
        return True

    # -- GUI thread side --------------------------------------------------------------------------
    @Slot()
    def _drain(self) -> None:
        with self._lock:
            events, self._pending = self._pending, []
            self._wake_scheduled = False
        for event in events:
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Step) and event.job_id in self._done_jobs:
            return  # a late preview after the job ended: ignore
        signal = self._signal_for(event)
        if isinstance(event, Finished | Cancelled | Failed):
            self._done_jobs.add(event.job_id)
        try:
            if signal is not None:
                signal.emit(event)
            self.event.emit(event)
        except Exception:  # a slot's bug must not stop later events
            log.exception("Error while handling %s", type(event).__name__)

    def _signal_for(self, event: Event) -> Any:
        table = (
            (Queued, self.queued),
            (Loading, self.loading),
            (ModelReady, self.model_ready),
            (Started, self.started),
            (Step, self.step),
            (Finished, self.finished),
            (Cancelled, self.cancelled),
            (Failed, self.failed),
        )
        for cls, signal in table:
            if isinstance(event, cls):
                return signal
        log.debug("Unhandled event %r", event)
        return None
