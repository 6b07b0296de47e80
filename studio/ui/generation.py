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
from studio.ui.job_queue import JobQueue, RunningJob
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
from studio.ui.widgets.queue_panel import RUNNING, QueuePanel, running_key

log = logging.getLogger(__name__)

_PREVIEW_LABELS = {PreviewKind.X0: "x0", PreviewKind.LATENT: "x_t", PreviewKind.NONE: ""}


class GenerateTabController(QObject):
    """The Generate tab's jobs: as many run as the engine runs at once (`bridge.parallel_jobs()`: one
    locally, one per ComfyUI server), each followed (results saved, failures in the banner, its row in
    the queue panel with its status); the others wait in `queue` (UI-side: cancel and reorder are list
    edits) and are submitted as slots free up.

    The preview and the progress panel follow ONE running job, `job`: the first submitted, kept until
    it ends, then the oldest still running (the nearest to done). Keeping it, rather than jumping to
    the newest, means the preview never flips between two pictures and the bar never runs backwards;
    the panel's Cancel and Esc cancel the job that is shown."""

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
        self.running: list[RunningJob] = []  # submitted and not ended, in submission order
        self._shown: RunningJob | None = None  # the one the preview and the progress panel follow
        self.queue = JobQueue(self)
        self.queue_panel: QueuePanel | None = None
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
    def job(self) -> QtJob | None:
        """The running job the preview and the progress panel show (None when none runs)."""
        return self._shown.job if self._shown is not None else None

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def _has_free_slot(self) -> bool:
        """Whether a new job may be submitted now: the engine runs fewer jobs than it can at once
        and none is waiting before it."""
        return not self.queue.items() and len(self.running) < self.bridge.parallel_jobs()

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
        if not self._has_free_slot():
            self._enqueue(request)
            return None
        if not self.busy:
            self.banner.dismiss()  # the artist starts anew; a queued job's start keeps the last error
        return self._submit(request)

    def _enqueue(self, request: GenerationRequest) -> None:
        self.queue.add(request)
        self.status_message.emit(f"Added to the queue ({len(self.queue)} waiting)")

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
        run = RunningJob(job)
        self.running.append(run)
        job.queued.connect(lambda event: self._on_queued(run, event))
        job.loading.connect(lambda event: self._on_loading(run, event))
        job.started.connect(lambda event: self._on_started(run, event))
        job.warning.connect(self._on_warning)
        job.step.connect(lambda event: self._on_step(run, event))
        job.finished.connect(lambda event: self._on_finished(run, event))
        job.cancelled.connect(lambda event: self._on_cancelled(run, event))
        job.failed.connect(lambda event: self._on_failed(run, event))
        job.ended.connect(lambda _event: self._end_job(run))
        if self._shown is None:
            self._shown = run
            self.progress.job_waiting("Waiting for the engine…")
        self._show_queue()
        self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        """Cancel the job the progress panel shows (Esc, its Cancel); the others go on, and the
        waiting ones then run in turn."""
        if self._shown is not None:
            self._cancel_running(self._shown)

    def _cancel_running(self, run: RunningJob) -> None:
        if run is self._shown:
            self.progress.job_waiting("Cancelling…")
        self._set_status(run, "cancelling")
        run.job.cancel()

    def cancel_job(self, key: int) -> None:
        """Cancel a running job (its `running_key`; `RUNNING`: the one shown) or remove a waiting one
        (its queue id)."""
        if key == RUNNING:
            self.cancel()
            return
        run = next((r for r in self.running if running_key(r.job.id) == key), None)
        if run is not None:
            self._cancel_running(run)
        elif self.queue.remove(key):
            self.status_message.emit("Removed from the queue")

    def set_preview_kind(self, kind: PreviewKind) -> None:
        """The x0 / x_t toggle: the running jobs show it from their next preview on."""
        for run in self.running:
            run.job.handle.set_preview_kind(kind)

    def _set_status(self, run: RunningJob, status: str) -> None:
        run.status = status
        self._show_queue()

    def _show_queue(self) -> None:
        if self.queue_panel is None:
            return
        running = [(running_key(r.job.id), r.label) for r in self.running]
        waiting = [(p.id, f"{n}. {p.label} · waiting") for n, p in enumerate(self.queue.items(), start=1)]
        self.queue_panel.show_jobs(running, waiting)

    def _show_progress(self, run: RunningJob) -> None:
        """The progress panel as `run` stands now (it has just become the job shown)."""
        if run.last_step is not None:
            self.progress.job_started(run.last_step.total)
            self.progress.job_step(run.last_step.step, run.last_step.total, run.last_step.elapsed)
        elif run.total_steps:
            self.progress.job_started(run.total_steps)
        else:
            self.progress.job_waiting(f"{run.status[:1].upper()}{run.status[1:]}…")

    # -- the jobs' events -------------------------------------------------------------------------
    def _on_queued(self, run: RunningJob, event: Queued) -> None:
        if event.position > 0 and run is self._shown:
            self.progress.job_waiting(f"Queued (position {event.position})")

    def _on_loading(self, run: RunningJob, event: Loading) -> None:
        self._set_status(run, "loading the model")
        if run is self._shown:
            self.progress.job_waiting(event.message or "Loading model…")

    def _on_model_ready(self, event: ModelReady) -> None:
        self.status_message.emit(
            f"Model ready: {Path(event.model).name or 'built-in'} on {event.device} "
            f"({event.dtype}) in {format_seconds(event.seconds)}"
        )

    def _on_started(self, run: RunningJob, event: Started) -> None:
        run.total_steps, run.last_step = event.total_steps, None  # a job moved to another server restarts
        self._set_status(run, "running")
        if run is self._shown:
            self.progress.job_started(event.total_steps)

    def _on_warning(self, text: str) -> None:
        """The job goes on; the banner says what the artist should know (a warning, not an error)."""
        shown = self.banner.message.text() if self.banner.isVisible() else ""
        self.banner.show_warning(f"{shown}\n{text}" if shown and self.banner.severity == "warning" else text)
        self.status_message.emit(text)

    def _on_step(self, run: RunningJob, event: Step) -> None:
        run.last_step = event
        if run.status != f"step {event.step}/{event.total}":
            self._set_status(run, f"step {event.step}/{event.total}")
        if run is not self._shown:
            return
        self.progress.job_step(event.step, event.total, event.elapsed)
        previews = list(event.previews) or ([event.preview] if event.preview is not None else [])
        if previews:
            label = _PREVIEW_LABELS[event.preview_kind]
            count = f" · {len(previews)} images" if len(previews) > 1 else ""
            self.view.set_image(
                array_to_qimage(grid(previews)),
                f"Preview {label} · step {event.step}/{event.total}{count}".replace("  ", " "),
                smooth=True,
            )

    def _on_finished(self, run: RunningJob, event: Finished) -> None:
        """Saved whichever job it is; shown (progress and image) when it is the job shown."""
        if run is self._shown:
            self._show_finished(event)
        self._save(event)

    def _show_finished(self, event: Finished) -> None:
        n = len(event.images)
        self.progress.job_ended(f"Done · {n} image{'s' if n != 1 else ''} in {format_seconds(event.elapsed)}")
        if len(event.images) > 1:  # the batch as the grid its previews were
            cells = [np.asarray(image.convert("RGB")) for image in event.images]
            seeds = ", ".join(str(s) for s in event.seeds)
            self.view.set_image(array_to_qimage(grid(cells)), f"Seeds {seeds}")
        elif event.images:
            seed = event.seeds[0] if event.seeds else event.request.seed
            self.view.set_image(pil_to_qimage(event.images[0]), f"Seed {seed}")

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

    def _on_cancelled(self, run: RunningJob, event: Cancelled) -> None:
        if run is self._shown:
            self.progress.job_ended(f"Cancelled at step {event.at_step}")

    def _on_failed(self, run: RunningJob, event: Failed) -> None:
        if run is self._shown:
            self.progress.job_ended("Failed")
        self._show_failure(event, run.job.request)

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
        if not self._has_free_slot():
            self._enqueue(request)
            return None
        if not self.busy:
            self.banner.dismiss()
        return self._submit(request)

    def _run_again(self, request: GenerationRequest) -> None:
        if self._has_free_slot():
            self._submit(request)
        else:
            self._enqueue(request)

    def _end_job(self, run: RunningJob) -> None:
        """After a job's terminal event: forget it (its QtJob emits nothing more), show the oldest
        job still running if it was the one shown, and submit waiting jobs into the free slots."""
        self.running.remove(run)
        if run is self._shown:
            self._shown = self.running[0] if self.running else None
            if self._shown is not None:
                self._show_progress(self._shown)
        while len(self.running) < self.bridge.parallel_jobs() and (waiting := self.queue.pop_next()):
            self._submit(waiting.request)
        self._show_queue()
        if not self.running:
            self.busy_changed.emit(False)


def _traceback() -> str:
    import traceback

    return traceback.format_exc()
