"""Canvas fixtures: a workspace with a recording fake submit (no engine), in a temp autosave dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

from studio.core.document import Document
from studio.core.request import GenerationRequest


class Submits:
    """Stands in for the main window's submit/cancel; records what the canvas sent."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []
        self.cancelled: list[int] = []
        self.base = GenerationRequest(prompt="a red door", steps=4, width=64, height=64, seed=5)

    def submit(self, request: GenerationRequest) -> int:
        self.requests.append(request)
        return 100 + len(self.requests)

    def cancel(self, job_id: int) -> None:
        self.cancelled.append(job_id)

    def provider(self) -> GenerationRequest:
        return self.base


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
        ws = CanvasWorkspace(
            submits.submit, submits.cancel, submits.provider, tmp_path / "autosave", document=doc, **kw
        )
        qtbot.addWidget(ws)
        ws.resize(900, 600)
        ws.show()
        qtbot.waitExposed(ws)
        return ws

    return make


@pytest.fixture
def workspace(make_workspace):
    return make_workspace()
