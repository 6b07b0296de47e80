"""The Generate tab's job flow: submit the view-model's request, follow its events, show previews and
progress, save and show the results, and report failures in the banner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from studio.core.events import Cancelled, Failed, Finished, Loading, ModelReady, Queued, Started, Step
from studio.core.request import GenerationRequest, PreviewKind
from studio.ui.bridge import EngineBridge
from studio.ui.images import array_to_qimage, pil_to_qimage
from studio.ui.results import SavedResult
from studio.ui.saver import ResultSaver
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.banner import ErrorBanner
from studio.ui.widgets.history import HistoryStrip
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress_panel import ProgressPanel, format_seconds

log = logging.getLogger(__name__)


class GenerationController(QObject):
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
        self.current_job: int | None = None
        self._jobs: set[int] = set()
        self.preview_interval = 1  # from settings; 0 = previews off
        self.last_results: list[SavedResult] = []
        bridge.queued.connect(self._on_queued)
        bridge.loading.connect(self._on_loading)
        bridge.model_ready.connect(self._on_model_ready)
        bridge.started.connect(self._on_started)
        bridge.step.connect(self._on_step)
        bridge.finished.connect(self._on_finished)
        bridge.cancelled.connect(self._on_cancelled)
        bridge.failed.connect(self._on_failed)
        self.progress.cancel_requested.connect(self.cancel)
        self.saver = ResultSaver(self)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(self._on_save_failed)

    @property
    def busy(self) -> bool:
        return self.current_job is not None

    # -- commands ---------------------------------------------------------------------------------
    def build_request(self) -> GenerationRequest:
        request = self.vm.next_request()
        if self.preview_interval <= 0:
            return request.replace(preview=PreviewKind.NONE, preview_interval=1)
        return request.replace(preview_interval=self.preview_interval)

    def generate(self) -> int | None:
        """Submit the current settings; returns the job id, or None when the request is not usable."""
        if self.busy:
            self.status_message.emit("A generation is already running: cancel it first (Esc).")
            return None
        request = self.build_request()
        try:
            request.validate()
        except ValueError as exc:
            self.banner.show_error(str(exc))
            return None
        self.banner.dismiss()
        try:
            job = self.bridge.submit(request)
        except Exception as exc:  # engine could not start: report, stay usable
            log.exception("Submitting failed")
            self.banner.show_error(f"The engine could not start: {exc}", _traceback())
            return None
        self.current_job = job
        self._jobs.add(job)
        self.progress.job_waiting("Waiting for the engine…")
        self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        if self.current_job is not None:
            self.progress.job_waiting("Cancelling…")
            self.bridge.cancel(self.current_job)

    # -- events -----------------------------------------------------------------------------------
    def _mine(self, job_id: int) -> bool:
        return job_id in self._jobs

    def _on_queued(self, event: Queued) -> None:
        if self._mine(event.job_id) and event.position > 0:
            self.progress.job_waiting(f"Queued (position {event.position})")

    def _on_loading(self, event: Loading) -> None:
        if self._mine(event.job_id):
            self.progress.job_waiting(event.message or "Loading model…")

    def _on_model_ready(self, event: ModelReady) -> None:
        self.status_message.emit(
            f"Model ready: {Path(event.model).name or 'built-in'} on {event.device} "
            f"({event.dtype}) in {format_seconds(event.seconds)}"
        )

    def _on_started(self, event: Started) -> None:
        if self._mine(event.job_id):
            self.progress.job_started(event.total_steps)

    def _on_step(self, event: Step) -> None:
        if not self._mine(event.job_id):
            return
        self.progress.job_step(event.step, event.total, event.elapsed)
        if event.preview is not None:
            label = "x0" if event.preview_kind == "x0" else "x_t" if event.preview_kind == "latent" else ""
            self.view.set_image(
                array_to_qimage(event.preview),
                f"Preview {label} · step {event.step}/{event.total}".replace("  ", " "),
                smooth=True,
            )

    def _on_finished(self, event: Finished) -> None:
        if not self._mine(event.job_id):
            return
        self._end_job(event.job_id)
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
        if self._mine(event.job_id):
            self._end_job(event.job_id)
            self.progress.job_ended(f"Cancelled at step {event.at_step}")

    def _on_failed(self, event: Failed) -> None:
        if self._mine(event.job_id):
            self._end_job(event.job_id)
            self.progress.job_ended("Failed")
            self.banner.show_error(event.message, event.detail)

    def _end_job(self, job_id: int) -> None:
        self._jobs.discard(job_id)
        if self.current_job == job_id:
            self.current_job = None
            self.busy_changed.emit(False)


def _traceback() -> str:
    import traceback

    return traceback.format_exc()
