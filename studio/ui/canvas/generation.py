"""Inpaint/outpaint jobs for the canvas: build the request, follow its events, hold the candidates.

Results never touch the document until the artist accepts one; accepting is one undoable edit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal

from studio.core.document import Document, Rect
from studio.core.events import Cancelled, Failed, Finished, Step
from studio.core.geometry import crop_box_for_mask, outpaint_canvas, scale_to_fit
from studio.core.masks import effective_mask
from studio.core.request import (
    MAX_SIDE,
    MIN_SIDE,
    GenerationRequest,
    InpaintArea,
    MaskOptions,
    Mode,
    OutpaintOptions,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    job_id: int
    mode: Mode
    snapshot: np.ndarray  # the document image when the job was submitted
    mask: np.ndarray  # the document mask when submitted
    mask_options: MaskOptions
    outpaint: OutpaintOptions | None
    target: Rect  # where previews go, in document pixels

    @property
    def result_size(self) -> tuple[int, int]:
        h, w = self.snapshot.shape[:2]
        o = self.outpaint
        return (w, h) if o is None else (w + o.left + o.right, h + o.top + o.bottom)


class GenerationController(QObject):
    busy_changed = Signal(bool)
    candidates_changed = Signal(int, int)  # index, count (count 0 = none pending)
    preview_changed = Signal(object, object)  # rgb ndarray | None, target Rect | None
    message = Signal(str)
    accepted = Signal()

    def __init__(
        self,
        doc: Callable[[], Document],
        submit: Callable[[GenerationRequest], int],
        cancel: Callable[[int], None],
        request_provider: Callable[[], GenerationRequest],
    ) -> None:
        super().__init__()
        self._doc, self._submit, self._cancel, self._provider = doc, submit, cancel, request_provider
        self.job: Job | None = None
        self.candidates: list[np.ndarray] = []
        self.candidate_job: Job | None = None
        self.index = 0

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def has_candidates(self) -> bool:
        return bool(self.candidates)

    # building and submitting ----------------------------------------------------------------------
    def build_inpaint(self, options: MaskOptions, strength: float) -> GenerationRequest:
        doc = self._doc()
        base = self._provider()
        w, h = _generation_size(doc.size, base.width * base.height)
        return base.replace(
            mode=Mode.INPAINT,
            init_image=doc.image_pil(),
            mask=doc.mask_pil(),
            mask_options=options,
            strength=strength,
            width=w,
            height=h,
        )

    def build_outpaint(self, outpaint: OutpaintOptions, options: MaskOptions) -> GenerationRequest:
        doc = self._doc()
        base = self._provider()
        size = (doc.width + outpaint.left + outpaint.right, doc.height + outpaint.top + outpaint.bottom)
        w, h = _generation_size(size, base.width * base.height)
        return base.replace(
            mode=Mode.OUTPAINT,
            init_image=doc.image_pil(),
            mask=None,
            outpaint=outpaint,
            mask_options=options,
            strength=1.0,
            width=w,
            height=h,
        )

    def inpaint(self, options: MaskOptions, strength: float) -> int | None:
        return self._start(self.build_inpaint(options, strength))

    def outpaint(self, outpaint: OutpaintOptions, options: MaskOptions) -> int | None:
        return self._start(self.build_outpaint(outpaint, options))

    def _start(self, request: GenerationRequest) -> int | None:
        if self.busy or self.has_candidates:
            self.message.emit("Accept or discard the current result first.")
            return None
        try:
            request.validate()
        except ValueError as exc:
            self.message.emit(str(exc))
            return None
        doc = self._doc()
        job_id = self._submit(request)
        outpaint = request.outpaint if request.mode is Mode.OUTPAINT else None
        self.job = Job(
            job_id,
            request.mode,
            doc.image.copy(),
            doc.mask.copy(),
            request.mask_options,
            outpaint,
            _target_rect(doc, request),
        )
        self.busy_changed.emit(True)
        return job_id

    def cancel(self) -> None:
        if self.job is not None:
            self._cancel(self.job.job_id)

    def abandon(self) -> None:
        """The document is being replaced: cancel the running job, forget it and any candidates."""
        if self.job is not None:
            self._cancel(self.job.job_id)
            self._end_job()
        self.discard()

    # engine events (connected by the main window to its bridge signals) --------------------------
    def on_step(self, event: Step) -> None:
        if self.job is None or event.job_id != self.job.job_id or event.preview is None:
            return
        self.preview_changed.emit(event.preview, self.job.target)

    def on_finished(self, event: Finished) -> None:
        job = self.job
        if job is None or event.job_id != job.job_id:
            return
        self._end_job()
        results = [_as_rgb(img) for img in event.images]
        good = [r for r in results if (r.shape[1], r.shape[0]) == job.result_size]
        if len(good) < len(results):
            w, h = job.result_size
            log.error("Engine returned %d result(s) not %dx%d; ignored", len(results) - len(good), w, h)
            self.message.emit(
                f"{len(results) - len(good)} result(s) came back at the wrong size and were left out."
            )
        if good:
            self.candidates, self.candidate_job, self.index = good, job, 0
        self.candidates_changed.emit(self.index, len(self.candidates))

    def on_failed(self, event: Failed) -> None:
        if self.job is not None and event.job_id == self.job.job_id:
            self._end_job()
            self.message.emit(event.message)

    def on_cancelled(self, event: Cancelled) -> None:
        if self.job is not None and event.job_id == self.job.job_id:
            self._end_job()

    def _end_job(self) -> None:
        self.job = None
        self.preview_changed.emit(None, None)
        self.busy_changed.emit(False)

    # candidates -----------------------------------------------------------------------------------
    def current(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """The candidate on show and its origin in document pixels (negative when outpainted)."""
        if not self.candidates or self.candidate_job is None:
            return None
        o = self.candidate_job.outpaint
        origin = (0, 0) if o is None else (-o.left, -o.top)
        return self.candidates[self.index], origin

    def show(self, step: int) -> None:
        if self.candidates:
            self.index = (self.index + step) % len(self.candidates)
            self.candidates_changed.emit(self.index, len(self.candidates))

    def discard(self) -> None:
        self.candidates, self.candidate_job, self.index = [], None, 0
        self.candidates_changed.emit(0, 0)

    def accept(self) -> bool:
        cur, job = self.current(), self.candidate_job
        if cur is None or job is None:
            return False
        doc = self._doc()
        if doc.image.shape != job.snapshot.shape:
            self.message.emit("The canvas changed size since this was generated; it cannot be placed.")
            return False
        result = cur[0]
        if job.outpaint is None:
            doc.apply_image(_protect_unmasked(job, result, doc.image), "Inpaint result")
        else:
            o = job.outpaint
            image = _keep_current_original(job, result, doc.image)
            doc.extend(o.left, o.top, o.right, o.bottom, image=image, label="Outpaint result")
        self.discard()
        self.accepted.emit()
        return True


def _protect_unmasked(job: Job, result: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Pixels outside the effective (grown, feathered) mask come from the document, exactly."""
    o = job.mask_options
    eff = np.asarray(effective_mask(Image.fromarray(job.mask, "L"), o.grow, o.feather))
    keep = eff == 0
    changed = (result != job.snapshot).any(axis=2) & keep
    if changed.any():
        log.warning("Result changed %d pixels outside the mask; restored them", int(changed.sum()))
    out = result.copy()
    out[keep] = current[keep]
    return out


def _keep_current_original(job: Job, result: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Outpaint: original pixels the engine left alone take the document's current values (in case
    an undo changed them while the job ran); the regenerated overlap band stays as generated."""
    o, (h, w) = job.outpaint, job.snapshot.shape[:2]
    out = result.copy()
    region = out[o.top : o.top + h, o.left : o.left + w]  # type: ignore[union-attr]
    untouched = (region == job.snapshot).all(axis=2)
    region[untouched] = current[untouched]
    return out


def _as_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB")).copy()


def _generation_size(size: tuple[int, int], area: int) -> tuple[int, int]:
    w, h = scale_to_fit(size, area)
    return max(MIN_SIDE, min(MAX_SIDE, w)), max(MIN_SIDE, min(MAX_SIDE, h))


def _target_rect(doc: Document, request: GenerationRequest) -> Rect:
    """Where the engine generates, in document pixels (the same boxes as studio.engine.pipelines)."""
    w, h = doc.size
    opts, mask, shift = request.mask_options, request.mask, (0, 0)
    if request.mode is Mode.OUTPAINT:
        o = request.outpaint
        full = (-o.left, -o.top, w + o.right, h + o.bottom)
        if opts.area is not InpaintArea.ONLY_MASKED:
            return full
        _, mask, _ = outpaint_canvas(request.init_image, o, fill="none")  # type: ignore[arg-type]
        shift, (w, h) = (-o.left, -o.top), mask.size
    if opts.area is not InpaintArea.ONLY_MASKED or mask is None:
        return (0, 0, w, h)
    eff = effective_mask(mask, opts.grow, opts.feather)
    box = crop_box_for_mask(eff, opts.padding, (w, h), target_aspect=1.0)
    return (box[0] + shift[0], box[1] + shift[1], box[2] + shift[0], box[3] + shift[1])
