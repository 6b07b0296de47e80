"""The Generate tab's jobs: those waiting for a free slot (the UI keeps them, not the engine, so
cancelling and reordering a waiting job is a list edit; the next one is submitted when a running job
ends) and what the tab knows of each running one."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from studio.core.events import Step
from studio.core.request import GenerationRequest
from studio.ui.bridge import QtJob

EXCERPT = 48


@dataclass(frozen=True)
class PendingJob:
    id: int  # the queue's own number (the engine's job id exists only once submitted)
    request: GenerationRequest

    @property
    def label(self) -> str:
        return excerpt(self.request.prompt)


@dataclass
class RunningJob:
    """A submitted job the tab follows: its `QtJob` and what its queue row and the progress panel
    show of it (the panel may switch to it while it runs, so its last state is kept)."""

    job: QtJob
    status: str = "waiting for the engine"
    total_steps: int = 0  # from Started; 0 until then
    last_step: Step | None = None

    @property
    def label(self) -> str:
        return f"▶ {excerpt(self.job.request.prompt)} · {self.status}"


def excerpt(prompt: str, length: int = EXCERPT) -> str:
    text = " ".join(prompt.split()) or "(no prompt)"
    return text if len(text) <= length else text[: length - 1] + "…"


class JobQueue(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[PendingJob] = []
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[PendingJob]:
        return list(self._items)

    def add(self, request: GenerationRequest) -> PendingJob:
        job = PendingJob(next(self._ids), request)
        self._items.append(job)
        self.changed.emit()
        return job

    def remove(self, job_id: int) -> bool:
        index = self._index(job_id)
        if index is None:
            return False
        del self._items[index]
        self.changed.emit()
        return True

    def move(self, job_id: int, delta: int) -> bool:
        """Move a waiting job `delta` places (negative: sooner); False when it cannot move."""
        index = self._index(job_id)
        if index is None:
            return False
        target = min(max(index + delta, 0), len(self._items) - 1)
        if target == index:
            return False
        self._items.insert(target, self._items.pop(index))
        self.changed.emit()
        return True

    def pop_next(self) -> PendingJob | None:
        if not self._items:
            return None
        job = self._items.pop(0)
        self.changed.emit()
        return job

    def _index(self, job_id: int) -> int | None:
        return next((i for i, job in enumerate(self._items) if job.id == job_id), None)
