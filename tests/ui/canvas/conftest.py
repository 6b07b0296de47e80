"""Canvas fixtures: a workspace with a recording fake submit (no engine), in a temp autosave dir."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from studio.core.document import Document
from studio.core.events import Event, Finished, JobHandle, Started
from studio.core.plan import GenerationPlan, plan
from studio.core.request import GenerationRequest, check_request
from studio.ui.bridge import QtJob


class Submits:
    """Stands in for the main window's submit: checks the request as the engine does and returns a
    real `QtJob` (ids 101, 102, ...); tests then send that job's events as the bridge would."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []  # the accepted ones
        self.jobs: list[QtJob] = []
        self.cancelled: list[int] = []
        self.base = GenerationRequest(prompt="a red door", steps=4, width=64, height=64, seed=5)
        self._ids = itertools.count(101)

    def submit(self, request: GenerationRequest) -> QtJob:
        try:
            request, problem = check_request(request), None
        except ValueError as exc:
            problem = str(exc)
        job = QtJob(JobHandle(next(self._ids), request, self.cancel))
        if problem is not None:
            job.handle.reject(problem)
            return job
        self.requests.append(request)
        self.jobs.append(job)
        return job

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        return True

    def provider(self) -> GenerationRequest:
        return self.base

    # sending a job's events (GUI thread, as the bridge does) ---------------------------------------
    def send(self, event: Event) -> None:
        job = next(j for j in self.jobs if j.id == event.job_id)
        job.handle.deliver(event)
        job.dispatch(event)

    def start(self) -> GenerationPlan:
        """`Started` for the newest job, with the plan the engine would run."""
        job = self.jobs[-1]
        the_plan = plan(job.request)
        self.send(Started(job.id, the_plan))
        return the_plan

    def finish(self, images: list) -> None:
        """`Started` (if not sent yet) and `Finished` with `images` for the newest job."""
        job = self.jobs[-1]
        if job.handle.plan is None:
            self.start()
        self.send(Finished(job.id, images, job.request.seeds(), job.request, 1.0))


def noise_image(w: int = 96, h: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def submits() -> Submits:
    return Submits()


@pytest.fixture
def make_workspace(qtbot: Any, submits: Submits, tmp_path: Path):
    def make(image: np.ndarray | None = None, **kw: Any):
        from studio.ui.canvas import CanvasWorkspace

        doc = Document(noise_image() if image is None else image)
        kw.setdefault("unsaved_choice", lambda parent: "discard")
        ws = CanvasWorkspace(submits.submit, submits.provider, tmp_path / "autosave", document=doc, **kw)
        qtbot.addWidget(ws)
        ws.resize(900, 600)
        ws.show()
        qtbot.waitExposed(ws)
        return ws

    return make


@pytest.fixture
def workspace(make_workspace):
    return make_workspace()
