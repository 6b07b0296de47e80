"""Run one request on an Engine from a plain (non-Qt) thread, with a text progress bar.

Used by ``studio-cli``; handy for scripts too. Importing this module does not import torch.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from pathlib import Path
from typing import Protocol, TextIO

from studio.core.events import (
    Cancelled,
    Event,
    Failed,
    FailureKind,
    Finished,
    JobHandle,
    Loading,
    ModelReady,
    Outcome,
    Started,
    Step,
)
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """The job ended with ``Failed`` (``kind``, message) or ``Cancelled``."""

    def __init__(self, message: str, kind: FailureKind | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class ProgressBar:
    """``[#######-------]  7/20 steps  3.1 s`` redrawn in place on a terminal; quiet otherwise."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def message(self, text: str) -> None:
        if self.live:
            self._clear()
            self.stream.write(f"{text}\n")
            self.stream.flush()

    def warning(self, text: str) -> None:
        """``warning: TEXT`` on its own line, on a terminal or not (the job goes on)."""
        self._clear()
        self.stream.write(f"warning: {text}\n")
        self.stream.flush()

    def update(self, step: int, total: int, elapsed: float) -> None:
        if not self.live:
            return
        filled = int(self.width * step / max(1, total))
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {step:>3}/{total} steps {elapsed:6.1f} s")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.live and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
            self._drawn = False


def run_job(
    request: GenerationRequest,
    *,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    bar: ProgressBar | None = None,
    memory_mode: str = "auto",
) -> Finished:
    """Run ``request`` on a fresh Engine and return its ``Finished`` event; raises JobFailed.

    Ctrl+C cancels the job (the engine stops within a step) and re-raises KeyboardInterrupt.
    """
    from studio.engine.engine import Engine

    engine = Engine(
        lambda event: None, device=device, precision=precision, torch_threads=threads, memory_mode=memory_mode
    )
    return run_on(engine, request, bar or ProgressBar(), shutdown_timeout=30.0)


class JobRunner(Protocol):
    """What `run_on` needs of an engine: the local `Engine` and studio.remote's `RemoteEngine`."""

    def start(self) -> None: ...
    def submit(self, request: GenerationRequest) -> JobHandle: ...
    def shutdown(self, timeout: float = 10.0) -> bool: ...


def run_on(
    engine: JobRunner, request: GenerationRequest, bar: ProgressBar, *, shutdown_timeout: float
) -> Finished:
    """Start `engine`, run `request` on it, shut it down and return the ``Finished`` event; raises
    JobFailed. Ctrl+C cancels the job and re-raises KeyboardInterrupt."""
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    engine.start()
    job = engine.submit(request)
    job.subscribe(events.put)  # this job's events only (replayed from its Queued)
    try:
        end = follow(events, bar)
    except KeyboardInterrupt:
        job.cancel()
        engine.shutdown(shutdown_timeout)
        raise
    finally:
        bar.close()
    engine.shutdown(shutdown_timeout)
    if isinstance(end, Failed):
        raise JobFailed(end.message, end.kind)
    if isinstance(end, Cancelled):
        raise JobFailed("cancelled")
    return end


def follow(events: queue.SimpleQueue[Event], bar: ProgressBar) -> Outcome:
    """Show a job's `events` on `bar` until its outcome (Finished, Cancelled or Failed), returned."""
    while True:
        try:
            event = events.get(timeout=0.2)  # wakes up regularly so Ctrl+C is seen
        except queue.Empty:
            continue
        if isinstance(event, Failed) and event.detail:
            log.error("Job %d failed: %s\n%s", event.job_id, event.message, event.detail)
        if isinstance(event, Loading):
            bar.message(event.message)
        elif isinstance(event, ModelReady):
            bar.message(f"{event.model} ready on {event.device} ({event.dtype}) in {event.seconds:.1f} s")
        elif isinstance(event, Started):
            for text in event.warnings:
                bar.warning(text)
            bar.update(0, event.total_steps, 0.0)
        elif isinstance(event, Step):
            bar.update(event.step, event.total, event.elapsed)
        if isinstance(event, Finished | Cancelled | Failed):
            return event


def output_paths(out: Path, count: int) -> list[Path]:
    """``out`` for one image; ``NAME-0001.png``, ``NAME-0002.png``, ... for a batch."""
    if count == 1:
        return [out]
    return [out.with_name(f"{out.stem}-{i:04d}{out.suffix}") for i in range(1, count + 1)]


def save_results(finished: Finished, out: Path, *, overwrite: bool = False) -> list[Path]:
    """Save every image of ``finished`` as PNG with its parameters; returns the paths.

    An existing file is never replaced unless ``overwrite``: its name gets a numbered sibling
    (``out-1.png``, ``out-2.png``, ...). Each file appears complete under its name or not at all."""
    from studio.core.fileio import atomic_write_bytes, numbered_names, write_unique
    from studio.core.metadata import png_bytes

    params = finished.parameters or [{} for _ in finished.images]
    started = time.monotonic()
    paths = []
    for image, path, p in zip(finished.images, output_paths(out, len(finished.images)), params, strict=True):
        data = png_bytes(image, p)
        if overwrite:
            atomic_write_bytes(path, data)
        else:
            path = write_unique(path.parent, numbered_names(path.stem, path.suffix), data)
        paths.append(path)
    log.info("Saved %d image(s) in %.2f s", len(paths), time.monotonic() - started)
    return paths
