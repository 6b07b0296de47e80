"""A scripted stand-in for `studio.engine.engine.Engine` (same interface) for fast UI tests.

It reuses the real contract's parts so it cannot drift from it: requests are checked by the engine's
own `check_request` at submit (a bad one gives a rejected `JobHandle`), jobs are real `JobHandle`s,
`Started` carries the real `plan(request)`, and every event goes to `publish` and then to the job's
handle, from a separate thread like the real engine's publisher.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from studio.core.events import (
    Cancelled,
    Event,
    Failed,
    FailureKind,
    Finished,
    JobHandle,
    Queued,
    Started,
    Step,
)
from studio.core.plan import plan
from studio.core.prompt_length import length_warnings
from studio.core.request import GenerationRequest, PreviewKind, check_request

FAKE_READABLE_TOKENS = 75  # like Stable Diffusion's 77 minus start and end; the fake counts words
JobRef = int | JobHandle | Any  # a job id, a JobHandle, or anything with `.id` (the UI's QtJob)
_IDS = itertools.count(1)  # unique in the process, like the real engine's


class FakeEngine:
    """Same interface as `studio.engine.engine.Engine`; jobs run only when a test scripts them."""

    def __init__(self, publish: Callable[[Event], None], **_options: Any) -> None:
        self.publish = publish
        self.started = False
        self.requests: dict[int, GenerationRequest] = {}  # accepted requests, as checked
        self.handles: dict[int, JobHandle] = {}
        self.cancelled: list[int] = []
        self.preloaded: list[str] = []
        self.shut_down = False
        self.parallel = 1  # what `parallel_jobs` says (a test sets 2 for two ComfyUI servers)

    def start(self) -> None:
        self.started = True

    def submit(self, request: GenerationRequest) -> JobHandle:
        job = next(_IDS)
        try:
            request, problem = check_request(request), None
        except ValueError as exc:
            problem = str(exc)
        handle = JobHandle(job, request, self.cancel)
        if problem is not None:
            self.publish(handle.reject(problem))
            return handle
        self.requests[job] = request
        self.handles[job] = handle
        self._send(Queued(job, 0))
        return handle

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

    def parallel_jobs(self) -> int:
        return self.parallel

    # -- scripting --------------------------------------------------------------------------------
    def _send(self, event: Event) -> None:
        self.publish(event)
        handle = self.handles.get(event.job_id)
        if handle is not None:
            handle.deliver(event)

    def emit_from_thread(self, events: list[Event]) -> None:
        thread = threading.Thread(target=lambda: [self._send(e) for e in events])
        thread.start()
        thread.join()

    def run(
        self,
        job: JobRef,
        steps: int = 4,
        color: tuple[int, int, int] = (200, 30, 40),
        *,
        finish: bool = True,
        cancel_at: int | None = None,
    ) -> None:
        job_id = _id(job)
        request = self.requests[job_id]
        the_plan = plan(request)
        events: list[Event] = [Started(job_id, the_plan, prompt_warnings(request))]
        w, h = the_plan.result_size
        for i in range(1, steps + 1):
            if cancel_at is not None and i > cancel_at:
                events.append(Cancelled(job_id, cancel_at))
                break
            shade = np.full((h, w, 3), [c * i // steps for c in color], dtype=np.uint8)
            events.append(Step(job_id, i, steps, 0.1 * i, shade, PreviewKind.X0))
        else:
            if finish:
                images = [Image.new("RGB", (w, h), color) for _ in request.seeds()]
                events.append(Finished(job_id, images, request.seeds(), request, 0.1 * steps))
        self.emit_from_thread(events)

    def fail(self, job: JobRef, message: str = "Out of memory: try a smaller size.") -> None:
        job_id = _id(job)
        self.emit_from_thread([Failed(job_id, FailureKind.OUT_OF_MEMORY, message, "Traceback: fake detail")])


def prompt_warnings(request: GenerationRequest) -> tuple[str, ...]:
    """The real engine's `Started.warnings` for prompts it would cut, counting a word as a token."""
    texts = (("prompt", request.prompt), ("negative prompt", request.negative_prompt))
    return length_warnings(((label, len(text.split())) for label, text in texts), FAKE_READABLE_TOKENS)


def _id(job: JobRef) -> int:
    return job if isinstance(job, int) else int(job.id)
