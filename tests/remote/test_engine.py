"""The remote engine's contract without a server: rejections at submit, no server reachable,
cancelling a queued job, shutdown. (Against a real ComfyUI: test_comfyui.py; a replayed one: P's.)"""

from __future__ import annotations

import socket

import pytest

from studio.core.events import Cancelled, Event, Failed, FailureKind, Queued
from studio.core.request import GenerationRequest, LoraRef
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


@pytest.fixture
def engine_and_events():
    events: list[Event] = []
    engine = RemoteEngine(events.append, [ServerConfig(f"127.0.0.1:{_closed_port()}")], connect_timeout=1)
    yield engine, events
    assert engine.shutdown(10)


def test_a_request_a_server_cannot_run_is_rejected_at_submit(engine_and_events) -> None:  # type: ignore[no-untyped-def]
    engine, events = engine_and_events
    engine.start()
    handle = engine.submit(GenerationRequest(width=64, height=64, loras=(LoraRef("ink"),)))
    assert handle.done and handle.rejection is not None
    assert handle.rejection.kind is FailureKind.INPUT and "LoRAs" in handle.rejection.message
    bad = engine.submit(GenerationRequest(width=65))
    assert bad.rejection is not None and "multiple of 8" in bad.rejection.message
    assert not engine.busy


def test_with_no_server_reachable_the_job_fails_with_a_clear_message(engine_and_events) -> None:  # type: ignore[no-untyped-def]
    engine, events = engine_and_events
    engine.start()
    handle = engine.submit(GenerationRequest(width=64, height=64))
    outcome = handle.wait(20)
    assert isinstance(outcome, Failed), outcome
    assert "No ComfyUI server can be reached" in outcome.message and "connection refused" in outcome.message
    assert [type(e) for e in events if e.job_id == handle.id] == [Queued, Failed]
    status = engine.server_status()[0]
    assert not status.reachable and "connection refused" in status.last_error
    later = engine.submit(
        GenerationRequest(width=64, height=64)
    )  # known down: fails at once, not after backoff
    assert isinstance(later.wait(2), Failed)


def test_a_queued_job_is_cancelled_at_once(engine_and_events) -> None:  # type: ignore[no-untyped-def]
    engine, events = engine_and_events  # not started: jobs stay queued
    first = engine.submit(GenerationRequest(width=64, height=64))
    second = engine.submit(GenerationRequest(width=64, height=64))
    assert engine.busy
    assert first.cancel()
    engine.start()
    assert isinstance(first.wait(5), Cancelled)
    moved_up = [e for e in events if isinstance(e, Queued) and e.job_id == second.id]
    assert [e.position for e in moved_up] == [1, 0]
    assert not first.cancel()  # already ended


def test_submit_after_shutdown_is_refused() -> None:
    engine = RemoteEngine(lambda e: None, [ServerConfig(f"127.0.0.1:{_closed_port()}")], connect_timeout=1)
    engine.start()
    assert engine.shutdown(10)
    handle = engine.submit(GenerationRequest(width=64, height=64))
    assert handle.rejection is not None and "shut down" in handle.rejection.message


def test_an_engine_needs_a_server() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RemoteEngine(lambda e: None, [])


def test_a_job_goes_to_the_least_busy_idle_server() -> None:
    """`take` hands the next job to an idle server only when it is the least busy idle one: the
    shortest /queue (other clients' prompts), then the most free memory."""
    servers = [ServerConfig(f"127.0.0.1:{_closed_port()}", name=n) for n in ("a", "b", "c")]
    engine = RemoteEngine(lambda e: None, servers)  # not started: the test plays the workers' part
    a, b, c = engine._workers
    for worker, queue_length, free in ((a, 3, 8), (b, 1, 2), (c, 1, 4)):
        worker.reachable, worker.tried, worker.queue_length, worker.free_vram = True, True, queue_length, free
    first = engine.submit(GenerationRequest(width=64, height=64))
    assert engine.take(a) is None and engine.take(b) is None  # c: as short a queue as b, more memory
    assert engine.take(c) is not None and c.current is not None and c.current.id == first.id
    second = engine.submit(GenerationRequest(width=64, height=64))
    assert engine.take(a) is None  # b is idle with a shorter queue
    taken = engine.take(b)
    assert taken is not None and taken.id == second.id
    third = engine.submit(GenerationRequest(width=64, height=64))
    b.current = c.current = None  # both done; then b goes down and c gets a long queue
    b.reachable, c.queue_length = False, 5
    assert engine.take(b) is None and engine.take(c) is None  # down; busier than a
    taken = engine.take(a)
    assert taken is not None and taken.id == third.id
