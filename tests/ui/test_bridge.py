"""The bridge: events from another thread arrive as signals on the GUI thread; previews coalesce."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QThread

from studio.core.events import Finished, Started, Step
from studio.core.request import GenerationRequest
from studio.ui.bridge import EngineBridge
from tests.ui.fakes import FakeEngine


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

    bridge.event.connect(record)
    request = GenerationRequest()
    preview = np.zeros((8, 8, 3), np.uint8)

    def worker() -> None:
        bridge.publish(Started(1, 10, 1))
        for i in range(1, 11):
            bridge.publish(Step(1, i, 10, 0.1, preview, "x0"))
        bridge.publish(Finished(1, [], [0], request, 1.0))
        bridge.publish(Step(1, 11, 10, 0.1, preview, "x0"))  # late: dropped

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
    bridge.event.connect(lambda e: got.append(type(e).__name__))
    with qtbot.capture_exceptions() as exceptions:
        bridge.publish(Started(1, 1, 1))
        bridge.publish(Finished(1, [], [0], GenerationRequest(), 0.0))
        qtbot.waitUntil(lambda: "Finished" in got, timeout=2000)
    assert any("slot bug" in str(e[1]) for e in exceptions)
