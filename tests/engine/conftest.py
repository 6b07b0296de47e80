"""Engine test fixtures: tiny diffusers folders (built once per session) and an event recorder."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from studio.core.events import TERMINAL_EVENTS, Event, JobHandle
from studio.core.request import GenerationRequest, PreviewKind


def id_of(job: int | JobHandle) -> int:
    return job if isinstance(job, int) else job.id


class Recorder:
    """Collects every event the engine publishes (called on the engine's publisher thread).

    `of`, `wait_for` take a job id or its JobHandle."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()
        self.on_event = None  # optional extra hook, called on the publisher thread

    def __call__(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, job: int | JobHandle) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.job_id == id_of(job)]

    def wait_for(self, job: int | JobHandle, timeout: float = 120.0) -> Event:
        """The terminal event of ``job`` (Finished / Cancelled / Failed)."""
        job_id = id_of(job)
        with self._cond:
            ok = self._cond.wait_for(lambda: self._terminal(job_id) is not None, timeout)
            assert ok, f"job {job_id} did not end in {timeout}s: {self.events!r}"
            return self._terminal(job_id)

    def wait_event(self, predicate, timeout: float = 60.0) -> Event:
        with self._cond:
            ok = self._cond.wait_for(lambda: any(predicate(e) for e in self.events), timeout)
            assert ok, f"no matching event in {timeout}s: {self.events!r}"
            return next(e for e in self.events if predicate(e))

    def _terminal(self, job_id: int) -> Event | None:
        return next((e for e in self.events if e.job_id == job_id and isinstance(e, TERMINAL_EVENTS)), None)


@pytest.fixture
def make_engine(tmp_path) -> Iterator:
    """make_engine(**kw) -> (engine, recorder); every engine made is shut down after the test."""
    from studio.engine.engine import Engine

    made = []

    def make(**kw):
        recorder = Recorder()
        kw.setdefault("device", "cpu")
        kw.setdefault("torch_threads", 1)
        kw.setdefault("cache_dir", tmp_path / "cache")
        engine = Engine(recorder, **kw)
        engine.start()
        made.append(engine)
        return engine, recorder

    yield make
    for engine in made:
        assert engine.shutdown(30.0)


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory):
    """One engine for a whole test module (the tiny model stays loaded between tests)."""
    from studio.engine.engine import Engine

    rec = Recorder()
    eng = Engine(rec, device="cpu", torch_threads=1, cache_dir=tmp_path_factory.mktemp("cache"))
    eng.start()
    yield eng, rec
    assert eng.shutdown(30)


@pytest.fixture
def engine(make_engine):
    return make_engine()


@pytest.fixture
def request_for(tiny_dir):
    """request_for(**changes) -> a small fast request on the tiny model."""

    def build(**changes) -> GenerationRequest:
        base = GenerationRequest(
            prompt="a red apple on a table",
            negative_prompt="blurry",
            model=str(tiny_dir),
            steps=3,
            guidance=5.0,
            width=64,
            height=64,
            seed=7,
            scheduler="Euler",
            preview=PreviewKind.NONE,
        )
        return base.replace(**changes)

    return build
