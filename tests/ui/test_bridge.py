"""The bridge: events from another thread arrive as signals on the GUI thread; previews coalesce."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QThread

from studio.core.events import Finished, Started, Step
from studio.core.plan import plan
from studio.core.request import GenerationRequest, PreviewKind
from studio.ui.bridge import EngineBridge
from tests.ui.fakes import FakeEngine

X0 = PreviewKind.X0


def _bridge() -> tuple[EngineBridge, list[FakeEngine]]:
    engines: list[FakeEngine] = []
    bridge = EngineBridge(lambda publish: engines.append(FakeEngine(publish)) or engines[-1])
    return bridge, engines


def test_engine_is_created_lazily(qtbot: Any) -> None:
    bridge, engines = _bridge()
    assert engines == [] and bridge.engine is None
    with qtbot.waitSignal(bridge.queued, timeout=1000):
        bridge.submit(GenerationRequest())
    assert len(engines) == 1 and engines[0].started
    bridge.shutdown()
    assert engines[0].shut_down


def test_events_arrive_on_the_gui_thread_and_previews_coalesce(qtbot: Any) -> None:
    bridge, _ = _bridge()
    seen: list[tuple[str, int, bool]] = []
    gui = QThread.currentThread()

    def record(event: Any) -> None:
        seen.append((type(event).__name__, getattr(event, "step", 0), QThread.currentThread() is gui))

    bridge.any_event.connect(record)
    request = GenerationRequest(steps=10)
    preview = np.zeros((8, 8, 3), np.uint8)

    def worker() -> None:
        bridge.publish(Started(1, plan(request)))
        for i in range(1, 11):
            bridge.publish(Step(1, i, 10, 0.1, preview, X0))
        bridge.publish(Finished(1, [], [0], request, 1.0))
        bridge.publish(Step(1, 11, 10, 0.1, preview, X0))  # late: dropped

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    with qtbot.waitSignal(bridge.finished, timeout=2000):
        pass
    qtbot.wait(20)
    assert all(on_gui for _, _, on_gui in seen)
    names = [name for name, _, _ in seen]
    assert names == ["Started", "Step", "Finished"]  # nine older previews dropped: latest wins
    assert seen[1][1] == 10
    assert bridge.dropped_previews == 10


def test_a_failing_slot_does_not_stop_later_events(qtbot: Any) -> None:
    bridge, _ = _bridge()
    got: list[str] = []
    bridge.started.connect(lambda e: (_ for _ in ()).throw(RuntimeError("slot bug")))
    bridge.any_event.connect(lambda e: got.append(type(e).__name__))
    with qtbot.capture_exceptions() as exceptions:
        bridge.publish(Started(1, plan(GenerationRequest(steps=1))))
        bridge.publish(Finished(1, [], [0], GenerationRequest(), 0.0))
        qtbot.waitUntil(lambda: "Finished" in got, timeout=2000)
    assert any("slot bug" in str(e[1]) for e in exceptions)


def _record(job: Any, into: list[tuple[str, int]]) -> None:
    for name in ("queued", "started", "step", "finished", "cancelled", "failed", "ended"):
        getattr(job, name).connect(lambda event, n=name: into.append((n, event.job_id)))


def test_each_job_object_gets_its_own_events_only(qtbot: Any) -> None:
    bridge, engines = _bridge()
    first = bridge.submit(GenerationRequest(prompt="one", width=64, height=64))
    second = bridge.submit(GenerationRequest(prompt="two", width=64, height=64, batch=2))
    assert first.id != second.id and first.rejection is None and second.rejection is None
    seen_first: list[tuple[str, int]] = []
    seen_second: list[tuple[str, int]] = []
    _record(first, seen_first)
    _record(second, seen_second)
    engine = engines[0]
    engine.run(first, steps=3, finish=False)  # interleaved: first starts, second runs and is cancelled
    assert second.cancel() and engine.cancelled == [second.id]  # through the job object, to the engine
    engine.run(second, steps=2, cancel_at=1)
    request = engine.requests[first.id]
    engine.emit_from_thread([Finished(first.id, [], request.seeds(), request, 0.3)])
    qtbot.waitUntil(lambda: ("ended", second.id) in seen_second and ("ended", first.id) in seen_first)
    assert {job for _, job in seen_first} == {first.id}
    assert {job for _, job in seen_second} == {second.id}
    names = [name for name, _ in seen_first]
    assert names[0] == "queued" and names[-2:] == ["finished", "ended"] and "started" in names
    assert [name for name, _ in seen_second][-2:] == ["cancelled", "ended"]
    assert not first.cancel() and engine.cancelled == [second.id]  # an ended job: nothing to cancel


def test_a_rejected_request_says_why_at_once_and_emits_nothing(qtbot: Any) -> None:
    bridge, engines = _bridge()
    failures: list[Any] = []
    bridge.failed.connect(failures.append)  # app-wide listeners still hear of it
    job = bridge.submit(GenerationRequest(width=65))
    assert job.rejection is not None and "multiple of 8" in job.rejection.message
    assert job.handle.done and engines[0].requests == {}
    emitted: list[Any] = []
    job.failed.connect(emitted.append)
    qtbot.waitUntil(lambda: bool(failures), timeout=1000)
    assert failures[0] is job.rejection and emitted == []
