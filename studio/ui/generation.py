"""The Generate tab's job flow: submit the view-model's request, follow its events, show previews and
progress, save and show the results, and report failures in the banner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.core.events import Cancelled, Failed, Finished, Loading, ModelReady, Queued, Started, Step
from studio.core.request import GenerationRequest, PreviewKind
from studio.ui.bridge import EngineBridge, QtJob
from studio.ui.images import array_to_qimage, pil_to_qimage
from studio.ui.results import SavedResult
from studio.ui.saver import ResultSaver
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.banner import ErrorBanner
from studio.ui.widgets.history import HistoryStrip
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress_panel import ProgressPanel, format_seconds

log = logging.getLogger(__name__)

_PREVIEW_LABELS = {PreviewKind.X0: "x0", PreviewKind.LATENT: "x_t", PreviewKind.NONE: ""}


class GenerateTabController(QObject):
    """The Generate tab's one job at a time: submits, follows that job's `QtJob` signals, saves."""

    busy_changed = Signal(bool)
    results_saved = Signal(list)  # list[SavedResult]
    status_message = Signal(str)

    def __init__(
        self,
        bridge: EngineBridge,
        vm: RequestViewModel,
        views: tuple[ImageView, ProgressPanel, ErrorBanner, HistoryStrip],
        output_dir: Callable[[], Path],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge, self.vm = bridge, vm
        self.view, self.progress, self.banner, self.history = views
        self._output_dir = output_dir
        self.job: QtJob | None = None  # the running job
        self.preview_interval = 1  # from settings; 0 = previews off
        self.last_results: list[SavedResult] = []
        bridge.model_ready.connect(self._on_model_ready)  # any model, also preloads: worth a status line
        self.progress.cancel_requested.connect(self.cancel)
        self.saver = ResultSaver(self)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(self._on_save_failed)

    @property
    def busy(self) -> bool:
        return self.job is not None

    # -- commands ---------------------------------------------------------------------------------
    def build_request(self) -> GenerationRequest:
        request = self.vm.next_request()
        if self.preview_interval <= 0:
            return request.replace(preview=PreviewKind.NONE, preview_interval=1)
        return request.replace(preview_interval=self.preview_interval)

    def generate(self) -> QtJob | None:
        """Submit the current settings; returns the job, or None when the engine refused the request
        (the banner says why) or could not start."""
        if self.busy:
            self.status_message.emit("A generation is already running: cancel it first (Esc).")
            return None
        try:
            job = self.bridge.submit(self.build_request())
        except Exception as exc:  # engine could not start: report, stay usable
            log.exception("Submitting failed")
            self.banner.show_error(f"The engine could not start: {exc}", _traceback())
            return None
        if job.rejection is not None:
            self.banner.show_error(job.rejection.message, job.rejection.detail)
            return None
        self.banner.dismiss()
        self.job = job
        job.queued.connect(self._on_queued)
        job.loading.connect(self._on_loading)
        job.started.connect(self._on_started)
        job.step.connect(self._on_step)
        job.finished.connect(self._on_finished)
        job.cancelled.connect(self._on_cancelled)
        job.failed.connect(self._on_failed)
        job.ended.connect(self._end_job)
        self.progress.job_waiting("Waiting for the engine…")
        self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.progress.job_waiting("Cancelling…")
            self.job.cancel()

    # -- the job's events -------------------------------------------------------------------------
    def _on_queued(self, event: Queued) -> None:
        if event.position > 0:
            self.progress.job_waiting(f"Queued (position {event.position})")

    def _on_loading(self, event: Loading) -> None:
        self.progress.job_waiting(event.message or "Loading model…")

    def _on_model_ready(self, event: ModelReady) -> None:
        self.status_message.emit(
            f"Model ready: {Path(event.model).name or 'built-in'} on {event.device} "
            f"({event.dtype}) in {format_seconds(event.seconds)}"
        )

    def _on_started(self, event: Started) -> None:
        self.progress.job_started(event.total_steps)

    def _on_step(self, event: Step) -> None:
        self.progress.job_step(event.step, event.total, event.elapsed)
        if event.preview is not None:
            label = _PREVIEW_LABELS[event.preview_kind]
            self.view.set_image(
                array_to_qimage(event.preview),
                f"Preview {label} · step {event.step}/{event.total}".replace("  ", " "),
                smooth=True,
            )

    def _on_finished(self, event: Finished) -> None:
        n = len(event.images)
        self.progress.job_ended(f"Done · {n} image{'s' if n != 1 else ''} in {format_seconds(event.elapsed)}")
        if event.images:
            seed = event.seeds[0] if event.seeds else event.request.seed
            self.view.set_image(pil_to_qimage(event.images[0]), f"Seed {seed}")
        self._save(event)

    def _save(self, event: Finished) -> None:
        self.saver.save(event, self._output_dir())

    def _on_save_failed(self, message: str, detail: str) -> None:
        self.banner.show_error(message, detail)

    def _on_saved(self, saved: list[SavedResult]) -> None:
        for result in reversed(saved):
            self.history.add_result(result.path, pil_to_qimage(result.image))
        if saved:
            self.history.setCurrentRow(0)
            self.status_message.emit(
                f"Saved {saved[0].path.name}" + (f" and {len(saved) - 1} more" if len(saved) > 1 else "")
            )
        self.last_results = saved
        self.results_saved.emit(saved)

    def _on_cancelled(self, event: Cancelled) -> None:
        self.progress.job_ended(f"Cancelled at step {event.at_step}")

    def _on_failed(self, event: Failed) -> None:
        self.progress.job_ended("Failed")
        self.banner.show_error(event.message, event.detail)

    def _end_job(self, _event: Finished | Cancelled | Failed) -> None:
        """After the job's terminal event: forget it (its QtJob emits nothing more)."""
        self.job = None
        self.busy_changed.emit(False)


def _traceback() -> str:
    import traceback

    return traceback.format_exc()
