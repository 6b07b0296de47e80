"""Saves finished results on a worker thread so a large batch never stalls the GUI.

`ResultSaver.save(event, folder)` starts the write at once; `saved(list[SavedResult])` or
`failed(message, detail)` arrive on the GUI thread (the signals object lives there). Saves run one
at a time, in order. `wait()` blocks until every pending save is written (used on quit).
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from studio.core.events import Finished
from studio.ui.results import save_each

log = logging.getLogger(__name__)


class _SaveJob(QRunnable):
    def __init__(self, saver: ResultSaver, event: Finished, folder: Path) -> None:
        super().__init__()
        self.saver, self.event, self.folder = saver, event, folder

    def run(self) -> None:
        try:
            saved, errors = save_each(self.event, self.folder)
        except Exception as exc:  # reported to the artist; the app stays usable
            log.exception("Saving results failed")
            self.saver.failed.emit(
                f"The image was made but could not be saved: {exc}", traceback.format_exc()
            )
            return
        if saved:  # what was saved reaches the history even when another image of the batch failed
            self.saver.saved.emit(saved)
        if errors:
            count = len(errors)
            what = (
                "The image was"
                if len(self.event.images) == 1
                else f"{count} of {len(self.event.images)} images were"
            )
            self.saver.failed.emit(f"{what} made but could not be saved: {errors[0]}", str(errors[0]))


class ResultSaver(QObject):
    saved = Signal(list)  # list[SavedResult]
    failed = Signal(str, str)  # message, detail

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # in order: names and history follow the jobs

    def save(self, event: Finished, folder: Path) -> None:
        self.pool.start(_SaveJob(self, event, folder))

    def wait(self, timeout_ms: int = 30_000) -> bool:
        return self.pool.waitForDone(timeout_ms)
