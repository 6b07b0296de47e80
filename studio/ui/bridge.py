"""Engine events -> Qt signals on the GUI thread, and one Qt object per submitted job.

The engine calls `publish(event)` on its own publisher thread. The bridge (a QObject living on the GUI
thread) appends the event to a lock-protected pending list and wakes itself through a queued signal;
the GUI thread then drains the list and re-emits typed Qt signals: on the submitted job's `QtJob`
(signals about that job only, what controllers connect to) and on the bridge itself (every event,
for app-wide listeners such as the status bar). Step previews are coalesced: only the newest pending
Step of a job is kept (latest wins), so a slow GUI never builds a backlog.

The engine itself is created lazily by a factory (importing `studio.engine.engine` must stay off the
path to the first window), and every command reaches it through the bridge.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from studio.core.events import (
    TERMINAL_EVENTS,
    Cancelled,
    Event,
    Failed,
    Finished,
    JobHandle,
    Loading,
    ModelReady,
    Queued,
    Started,
    Step,
)
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


class EngineLike(Protocol):
    """What the bridge needs of `studio.engine.engine.Engine` (and of the tests' fake engine)."""

    def start(self) -> None: ...
    def submit(self, request: GenerationRequest) -> JobHandle: ...
    def preload(self, ref: str) -> None: ...
    def shutdown(self, timeout: float = 10.0) -> bool: ...
    def parallel_jobs(self) -> int: ...  # how many jobs it runs at once (1 locally, one per server)


EngineFactory = Callable[[Callable[[Event], None]], EngineLike]


class QtJob(QObject):
    """One submitted job: its events as signals (GUI thread, this job only), and `cancel()`.

    Signals in order: queued+, loading*, model_ready?, started (`Started.plan` is what the engine
    runs), `warning` once per `Started.warnings` text (the job goes on), step* (coalesced), then one
    of finished / cancelled / failed, then `ended` with that same terminal event. A request the
    engine rejected at submit emits nothing: `rejection` says why.
    """

    queued = Signal(object)  # Queued
    loading = Signal(object)  # Loading
    model_ready = Signal(object)  # ModelReady
    started = Signal(object)  # Started
    warning = Signal(str)  # one of Started.warnings, after `started` (e.g. a prompt cut to the limit)
    step = Signal(object)  # Step (the newest pending one)
    finished = Signal(object)  # Finished
    cancelled = Signal(object)  # Cancelled
    failed = Signal(object)  # Failed
    ended = Signal(object)  # Finished | Cancelled | Failed, after its own signal

    def __init__(self, handle: JobHandle, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.handle = handle

    @property
    def id(self) -> int:
        return self.handle.id

    @property
    def request(self) -> GenerationRequest:
        """The request as the engine checked it at submit."""
        return self.handle.request

    @property
    def rejection(self) -> Failed | None:
        """Failed(kind=INPUT) when the engine refused the request at submit (nothing else follows)."""
        return self.handle.rejection

    def cancel(self) -> bool:
        """Queued: removed; running: stops within a step. False once the job has ended."""
        return self.handle.cancel()

    def dispatch(self, event: Event) -> None:
        """Emit `event` (one of this job's) on its signal; the bridge calls this on the GUI thread."""
        _emit(_signal_for(self, event), event)
        if isinstance(event, Started):
            self._warn(event.warnings)
        if isinstance(event, TERMINAL_EVENTS):
            _emit(self.ended, event)

    def _warn(self, warnings: tuple[str, ...]) -> None:
        for text in warnings:
            try:
                self.warning.emit(text)
            except Exception:  # a slot's bug must not stop later events
                log.exception("Error while handling a warning")


class EngineBridge(QObject):
    """Owns the engine; `submit` gives a `QtJob` per job. The bridge's own signals carry every event
    of every job (and preloads, job_id 0) for app-wide listeners; all are emitted on the GUI thread."""

    any_event = Signal(object)  # every event, after its typed signal
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
        self._jobs: dict[int, QtJob] = {}  # submitted and not ended (GUI thread only)
        self._done_jobs: set[int] = set()
        self.dropped_previews = 0
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # -- engine lifecycle and commands (GUI thread) -----------------------------------------------
    @property
    def engine(self) -> EngineLike | None:
        return self._engine

    @property
    def busy(self) -> bool:
        """Whether any submitted job (Generate tab, canvas, tools) has not ended yet."""
        return bool(self._jobs)

    def parallel_jobs(self) -> int:
        """How many jobs the engine runs at once (1 before it has started)."""
        return 1 if self._engine is None else max(1, self._engine.parallel_jobs())

    def ensure_engine(self) -> EngineLike:
        if self._engine is None:
            log.info("Starting the engine")
            self._engine = self._factory(self.publish)
            self._engine.start()
            self.engine_started.emit()
        return self._engine

    def submit(self, request: GenerationRequest) -> QtJob:
        """Submit `request` (the engine checks it); connect to the returned job's signals before
        control returns to the event loop. Check `rejection` first: a rejected job emits nothing."""
        job = QtJob(self.ensure_engine().submit(request))
        if job.rejection is None:
            self._jobs[job.id] = job
        return job

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
        job = self._jobs.get(event.job_id)
        if isinstance(event, TERMINAL_EVENTS):
            self._done_jobs.add(event.job_id)
            self._jobs.pop(event.job_id, None)
        if job is not None:
            job.dispatch(event)
        _emit(_signal_for(self, event), event)
        _emit(self.any_event, event)


def _signal_for(target: EngineBridge | QtJob, event: Event) -> SignalInstance | None:
    table = (
        (Queued, target.queued),
        (Loading, target.loading),
        (ModelReady, target.model_ready),
        (Started, target.started),
        (Step, target.step),
        (Finished, target.finished),
        (Cancelled, target.cancelled),
        (Failed, target.failed),
    )
    for cls, signal in table:
        if isinstance(event, cls):
            return signal
    log.debug("Unhandled event %r", event)
    return None


def _emit(signal: SignalInstance | None, event: Event) -> None:
    if signal is None:
        return
    try:
        signal.emit(event)
    except Exception:  # a slot's bug must not stop later events
        log.exception("Error while handling %s", type(event).__name__)
