"""Seam checks of the canvas's results, measured off the GUI thread (core.candidate_seams).

`measure(token, index, plan, result)` queues one measure on a single worker thread; the report comes
back as `measured(token, index, report)` on the GUI thread (a queued signal). The token tells the
receiver which set of results the report belongs to, so a report for results already gone is ignored.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.core.candidate_seams import measure_candidate
from studio.core.plan import GenerationPlan
from studio.core.seams import SeamReport

log = logging.getLogger(__name__)


class SeamChecker(QObject):
    measured = Signal(object, int, object)  # token, candidate index, SeamReport | None (GUI thread)
    _done = Signal(object, int, object)  # the worker's report, queued to the GUI thread

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seam-check")
        self.pending = 0  # measures queued or running, counted on the GUI thread
        # One queued event per report: `pending` drops and `measured`'s receivers run in that same
        # event, so nobody sees pending == 0 before every report has been received.
        self._done.connect(self._deliver)

    def measure(self, token: object, index: int, plan: GenerationPlan, result: np.ndarray) -> None:
        self.pending += 1
        future = self._pool.submit(measure_candidate, plan, result)
        future.add_done_callback(lambda done: self._report(token, index, done))

    def _report(self, token: object, index: int, done: Future[SeamReport | None]) -> None:
        """On the worker thread: the signal carries the report to the GUI thread."""
        try:
            report = done.result()
        except Exception:  # a measure that fails must not stop the artist reviewing the result
            log.exception("Measuring the seam of result %d failed", index)
            report = None
        self._done.emit(token, index, report)

    def _deliver(self, token: object, index: int, report: object) -> None:
        self.pending = max(0, self.pending - 1)
        self.measured.emit(token, index, report)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
