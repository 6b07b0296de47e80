"""A scripted stand-in for `studio.engine.engine.Engine` (same interface) for fast UI tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from studio.core.events import Cancelled, Event, Failed, FailureKind, Finished, Queued, Started, Step
from studio.core.request import GenerationRequest


class FakeEngine:
    """Same interface as `studio.engine.engine.Engine`; jobs run only when a test scripts them.

    Events are published from a separate thread (like the real engine's publisher thread)."""

    def __init__(self, publish: Callable[[Event], None], **_options: Any) -> None:
        self.publish = publish
        self.started = False
        self.requests: dict[int, GenerationRequest] = {}
        self.cancelled: list[int] = []
        self.preloaded: list[str] = []
        self.shut_down = False
        self._next = 1

    def start(self) -> None:
        self.started = True

    def submit(self, request: GenerationRequest) -> int:
        job = self._next
        self._next += 1
        self.requests[job] = request
        self.publish(Queued(job, 0))
        return job

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        return True

    def preload(self, ref: str) -> None:
        self.preloaded.append(ref)

    def shutdown(self, timeout: float = 10.0) -> bool:
        self.shut_down = True
        return True

    @property
    def busy(self) -> bool:
        return False

    # -- scripting --------------------------------------------------------------------------------
    def emit_from_thread(self, events: list[Event]) -> None:
        thread = threading.Thread(target=lambda: [self.publish(e) for e in events])
        thread.start()
        thread.join()

    def run(
        self,
        job: int,
        steps: int = 4,
        color: tuple[int, int, int] = (200, 30, 40),
        *,
        finish: bool = True,
        cancel_at: int | None = None,
    ) -> None:
        request = self.requests[job]
        events: list[Event] = [Started(job, steps, request.batch)]
        size = (request.height, request.width, 3)
        for i in range(1, steps + 1):
            if cancel_at is not None and i > cancel_at:
                events.append(Cancelled(job, cancel_at))
                break
            shade = np.full(size, [c * i // steps for c in color], dtype=np.uint8)
            events.append(Step(job, i, steps, 0.1 * i, shade, "x0"))
        else:
            if finish:
                images = [Image.new("RGB", (request.width, request.height), color) for _ in request.seeds()]
                events.append(Finished(job, images, request.seeds(), request, 0.1 * steps))
        self.emit_from_thread(events)

    def fail(self, job: int, message: str = "Out of memory: try a smaller size.") -> None:
        self.emit_from_thread([Failed(job, FailureKind.OUT_OF_MEMORY, message, "Traceback: fake detail")])
