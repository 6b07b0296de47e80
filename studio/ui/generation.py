"""The Generate tab's job flow: submit the view-model's request, follow its events, show previews and
progress, save and show the results, and report failures in the banner."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from studio.core.events import (
    Cancelled,
    Failed,
    FailureKind,
    Finished,
    Loading,
    ModelReady,
    Queued,
    Started,
    Step,
)
from studio.core.request import GenerationRequest, PreviewKind
from studio.core.user_files import without_named_file
from studio.ui.bridge import EngineBridge, QtJob
from studio.ui.images import array_to_qimage, pil_to_qimage
from studio.ui.job_queue import JobQueue, excerpt
from studio.ui.preview_grid import grid
from studio.ui.results import SavedResult
from studio.ui.saver import ResultSaver
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.banner import ErrorBanner
from studio.ui.widgets.control_sources import (
    ControlImageError,
    describe_controls,
    with_control_insets,
    with_images,
)
from studio.ui.widgets.history import HistoryStrip
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress_panel import ProgressPanel, format_seconds
from studio.ui.widgets.queue_panel import RUNNING, QueuePanel

log = logging.getLogger(__name__)

_PREVIEW_LABELS = {PreviewKind.X0: "x0", PreviewKind.LATENT: "x_t", PreviewKind.NONE: ""}


class GenerateTabController(QObject):
    """The Generate tab's jobs: one runs (its `QtJob` signals followed, results saved), the others
    wait in `queue` (UI-side: cancel and reorder are list edits) and run in turn."""

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
        self.queue = JobQueue(self)
        self.queue_panel: QueuePanel | None = None
        self._running_status = ""
        self.preview_interval = 1  # from settings; 0 = previews off
        self.lora_dirs: tuple[str, ...] = ()  # from settings: where `<lora:name:w>` and names are found
        self.embedding_dirs: tuple[str, ...] = ()
        self.upscaler_dirs: tuple[str, ...] = ()  # from settings: where model upscalers are found by name
        self.ip_image_encoder = ""  # from settings: the CLIP image encoder folder IP-Adapters use
        self.last_results: list[SavedResult] = []
        bridge.model_ready.connect(self._on_model_ready)  # any model, also preloads: worth a status line
        self.progress.cancel_requested.connect(self.cancel)
        self.saver = ResultSaver(self)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(self._on_save_failed)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def attach_queue_panel(self, panel: QueuePanel) -> None:
        """Show the running and waiting jobs in `panel`; its buttons cancel and reorder them."""
        self.queue_panel = panel
        panel.cancel_requested.connect(self.cancel_job)
        panel.move_requested.connect(self.queue.move)
        self.queue.changed.connect(self._show_queue)
        self._show_queue()

    # -- commands ---------------------------------------------------------------------------------
    def build_request(self) -> GenerationRequest:
        """The next job's request; its control images are read now (ControlImageError if one cannot)."""
        request = self._with_settings(self.vm.styled_request(self.vm.next_request()))
        return request.replace(controls=with_images(request.controls, None))

    def shared_request(self) -> GenerationRequest:
        """The tab's settings for another workspace (the canvas), which writes its own prompts, seed,
        sampler, strength and controls over them: no seed is drawn and no style is applied."""
        return self._with_settings(self.vm.request()).replace(controls=())

    def _with_settings(self, request: GenerationRequest) -> GenerationRequest:
        """`request` with the folders and preview interval from the settings."""
        request = request.replace(
            lora_dirs=self.lora_dirs,
            embedding_dirs=self.embedding_dirs,
            ip_image_encoder=self.ip_image_encoder,
            upscaler_dirs=self.upscaler_dirs,
        )
        if self.preview_interval <= 0:
            return request.replace(preview=PreviewKind.NONE, preview_interval=1)
        return request.replace(preview_interval=self.preview_interval)

    def generate(self) -> QtJob | None:
        """Submit the current settings; returns the job, or None when it was queued behind the
        running one, when the engine refused the request (the banner says why) or could not start."""
        try:
            request = self.build_request()
        except ControlImageError as exc:  # the panel keeps the unit: the artist chooses another image
            self.banner.show_error(str(exc))
            return None
        if self.busy:
            self.queue.add(request)
            self.status_message.emit(f"Added to the queue ({len(self.queue)} waiting)")
            return None
        self.banner.dismiss()  # the artist starts anew; a queued job's start keeps the last job's error
        return self._submit(request)

    def _submit(self, request: GenerationRequest) -> QtJob | None:
        try:
            job = self.bridge.submit(request)
        except Exception as exc:  # engine could not start: report, stay usable
            log.exception("Submitting failed")
            self.banner.show_error(f"The engine could not start: {exc}", _traceback())
            return None
        if job.rejection is not None:
            self._show_failure(job.rejection, request)
            return None
        self.job = job
        job.queued.connect(self._on_queued)
        job.loading.connect(self._on_loading)
        job.started.connect(self._on_started)
        job.warning.connect(self._on_warning)
        job.step.connect(self._on_step)
        job.finished.connect(self._on_finished)
        job.cancelled.connect(self._on_cancelled)
        job.failed.connect(self._on_failed)
        job.ended.connect(self._end_job)
        self._set_running_status("waiting for the engine")
        self.progress.job_waiting("Waiting for the engine…")
        self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        """Cancel the running job (Esc); the waiting ones then run in turn."""
        if self.job is not None:
            self.progress.job_waiting("Cancelling…")
            self._set_running_status("cancelling")
            self.job.cancel()

    def cancel_job(self, key: int) -> None:
        """Cancel the running job (`RUNNING`) or remove a waiting one (its queue id)."""
        if key == RUNNING:
            self.cancel()
        elif self.queue.remove(key):
            self.status_message.emit("Removed from the queue")

    def set_preview_kind(self, kind: PreviewKind) -> None:
        """The x0 / x_t toggle: the running job shows it from its next preview on."""
        if self.job is not None:
            self.job.handle.set_preview_kind(kind)

    def _set_running_status(self, status: str) -> None:
        self._running_status = status
        self._show_queue()

    def _show_queue(self) -> None:
        if self.queue_panel is None:
            return
        running = None
        if self.job is not None:
            running = f"▶ {excerpt(self.job.request.prompt)} · {self._running_status}"
        waiting = [(p.id, f"{n}. {p.label} · waiting") for n, p in enumerate(self.queue.items(), start=1)]
        self.queue_panel.show_jobs(running, waiting)

    # -- the job's events -------------------------------------------------------------------------
    def _on_queued(self, event: Queued) -> None:
        if event.position > 0:
            self.progress.job_waiting(f"Queued (position {event.position})")

    def _on_loading(self, event: Loading) -> None:
        self._set_running_status("loading the model")
        self.progress.job_waiting(event.message or "Loading model…")

    def _on_model_ready(self, event: ModelReady) -> None:
        self.status_message.emit(
            f"Model ready: {Path(event.model).name or 'built-in'} on {event.device} "
            f"({event.dtype}) in {format_seconds(event.seconds)}"
        )

    def _on_started(self, event: Started) -> None:
        self._set_running_status("running")
        self.progress.job_started(event.total_steps)

    def _on_warning(self, text: str) -> None:
        """The job goes on; the banner says what the artist should know (a warning, not an error)."""
        shown = self.banner.message.text() if self.banner.isVisible() else ""
        self.banner.show_warning(f"{shown}\n{text}" if shown and self.banner.severity == "warning" else text)
        self.status_message.emit(text)

    def _on_step(self, event: Step) -> None:
        self.progress.job_step(event.step, event.total, event.elapsed)
        if self._running_status != f"step {event.step}/{event.total}":
            self._set_running_status(f"step {event.step}/{event.total}")
        previews = list(event.previews) or ([event.preview] if event.preview is not None else [])
        if previews:
            label = _PREVIEW_LABELS[event.preview_kind]
            count = f" · {len(previews)} images" if len(previews) > 1 else ""
            self.view.set_image(
                array_to_qimage(grid(previews)),
                f"Preview {label} · step {event.step}/{event.total}{count}".replace("  ", " "),
                smooth=True,
            )

    def _on_finished(self, event: Finished) -> None:
        n = len(event.images)
        self.progress.job_ended(f"Done · {n} image{'s' if n != 1 else ''} in {format_seconds(event.elapsed)}")
        if len(event.images) > 1:  # the batch as the grid its previews were
            cells = [np.asarray(image.convert("RGB")) for image in event.images]
            seeds = ", ".join(str(s) for s in event.seeds)
            self.view.set_image(array_to_qimage(grid(cells)), f"Seeds {seeds}")
        elif event.images:
            seed = event.seeds[0] if event.seeds else event.request.seed
            self.view.set_image(pil_to_qimage(event.images[0]), f"Seed {seed}")
        self._save(event)

    def _save(self, event: Finished) -> None:
        self.saver.save(event, self._output_dir())

    def _on_save_failed(self, message: str, detail: str) -> None:
        self.banner.show_error(message, detail)

    def _on_saved(self, saved: list[SavedResult]) -> None:
        for result in reversed(saved):
            controls = result.request.controls  # shown with the result: their maps inset, listed
            item = self.history.add_result(
                result.path, pil_to_qimage(with_control_insets(result.image, controls))
            )
            if controls:
                item.setToolTip(f"{result.path.name}\nControls:\n{describe_controls(controls)}")
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
        self._show_failure(event, self.job.request if self.job is not None else None)

    def _show_failure(self, event: Failed, request: GenerationRequest | None) -> None:
        """The error in the banner; when the request's input names one of its LoRAs or its VAE, the
        banner offers to run it again without that file (only when the artist clicks it)."""
        self.banner.show_error(event.message, event.detail)
        if event.kind is not FailureKind.INPUT or request is None:
            return
        found = without_named_file(event.message, request)
        if found is not None:
            name, retry = found
            self.banner.offer(f"Run without {name}", lambda: self._run_again(retry))

    def submit_request(self, request: GenerationRequest) -> QtJob | None:
        """Run `request` (built elsewhere: "Upscale…") with the settings' folders, or queue it behind the
        running job; its result is shown and saved like any other."""
        request = self._with_settings(request)
        if self.busy:
            self.queue.add(request)
            self.status_message.emit(f"Added to the queue ({len(self.queue)} waiting)")
            return None
        self.banner.dismiss()
        return self._submit(request)

    def _run_again(self, request: GenerationRequest) -> None:
        if self.busy:
            self.queue.add(request)
            self.status_message.emit(f"Added to the queue ({len(self.queue)} waiting)")
        else:
            self._submit(request)

    def _end_job(self, _event: Finished | Cancelled | Failed) -> None:
        """After the job's terminal event: forget it (its QtJob emits nothing more) and submit the
        next waiting job, if any."""
        self.job = None
        while (waiting := self.queue.pop_next()) is not None:
            if self._submit(waiting.request) is not None:
                return
        self._show_queue()
        self.busy_changed.emit(False)


def _traceback() -> str:
    import traceback

    return traceback.format_exc()
