"""Inpaint/outpaint jobs for the canvas: build the request, follow its job, hold the candidates.

Where the engine generates and how its results go back come from the job's `GenerationPlan` (in its
`Started` event, exactly what the engine runs): previews are composited through the plan's effective
mask over the document and shown at `plan.region_in_source` (core.preview_composite), results must
be `plan.result_size`, sit at `plan.origin`, and keep the document's pixels wherever the plan's
effective mask is 0. Results never touch the document until the artist accepts one; accepting is one
undoable edit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal, SignalInstance

from studio.core.candidate_seams import fix_candidate
from studio.core.document import Document
from studio.core.events import Cancelled, Failed, Finished, Started, Step
from studio.core.plan import GenerationPlan
from studio.core.preview_composite import PreviewBase, composite_preview, preview_base
from studio.core.request import GenerationRequest, MaskOptions, Mode, OutpaintOptions
from studio.core.seams import SeamReport
from studio.ui.bridge import QtJob
from studio.ui.canvas.seam_worker import SeamChecker

log = logging.getLogger(__name__)

Submit = Callable[[GenerationRequest], QtJob]


@dataclass
class CanvasJob:
    """A canvas job: the engine's job, the document image when it was submitted, and its plan."""

    job: QtJob
    snapshot: np.ndarray  # the document image when the job was submitted
    plan: GenerationPlan | None = None  # from the job's Started event
    preview_base: PreviewBase | None = None  # what its step previews are composited onto
    parameters: list[dict[str, object]] = field(default_factory=list)  # per candidate (PNG metadata)
    links: list[tuple[SignalInstance, Callable[..., None]]] = field(default_factory=list, repr=False)

    @property
    def id(self) -> int:
        return self.job.id


class CanvasGenerationController(QObject):
    """The canvas tab's inpaint/outpaint: one job at a time, then its candidates until a decision."""

    busy_changed = Signal(bool)
    candidates_changed = Signal(int, int)  # index, count (count 0 = none pending)
    preview_changed = Signal(object, object)  # rgb ndarray | None, target Rect | None
    progress = Signal(int, int)  # step, total
    message = Signal(str)
    accepted = Signal()
    seam_changed = Signal()  # the seam report or fix of a result changed

    def __init__(
        self, doc: Callable[[], Document], submit: Submit, request_provider: Callable[[], GenerationRequest]
    ) -> None:
        super().__init__()
        self._doc, self._submit, self._provider = doc, submit, request_provider
        self.job: CanvasJob | None = None
        self.candidates: list[np.ndarray] = []
        self.candidate_job: CanvasJob | None = None
        self.index = 0
        self.seams: dict[int, SeamReport | None] = {}  # candidate index -> its report, once measured
        self.unfixed: list[np.ndarray | None] = []  # per candidate: the result before its seam fix
        self._seam_tokens: list[object] = []  # per candidate: its newest measure (older ones are stale)
        self.seam_checker = SeamChecker(self)
        self.seam_checker.measured.connect(self._on_seam_measured)

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def has_candidates(self) -> bool:
        return bool(self.candidates)

    # building and submitting ----------------------------------------------------------------------
    def build_inpaint(self, options: MaskOptions) -> GenerationRequest:
        """The canvas's generation settings (prompt, strength, seed…) + the document and its mask."""
        doc = self._doc()
        return self._provider().replace(
            mode=Mode.INPAINT, init_image=doc.image_pil(), mask=doc.mask_pil(), mask_options=options
        )

    def build_outpaint(self, outpaint: OutpaintOptions, options: MaskOptions) -> GenerationRequest:
        """The new area is generated from scratch (strength 1); the overlap band joins it."""
        return self._provider().replace(
            mode=Mode.OUTPAINT,
            init_image=self._doc().image_pil(),
            mask=None,
            outpaint=outpaint,
            mask_options=options,
            strength=1.0,
        )

    def inpaint(self, options: MaskOptions) -> QtJob | None:
        return self._start(self.build_inpaint(options))

    def outpaint(self, outpaint: OutpaintOptions, options: MaskOptions) -> QtJob | None:
        return self._start(self.build_outpaint(outpaint, options))

    def _start(self, request: GenerationRequest) -> QtJob | None:
        """Submit (the engine checks the request); None with a message when it is refused."""
        if self.busy or self.has_candidates:
            self.message.emit("Accept or discard the current result first.")
            return None
        snapshot = self._doc().image.copy()
        try:
            qt_job = self._submit(request)
        except Exception as exc:  # the engine could not start
            log.exception("Submitting failed")
            self.message.emit(f"The engine could not start: {exc}")
            return None
        if qt_job.rejection is not None:
            self.message.emit(qt_job.rejection.message)
            return None
        job = CanvasJob(qt_job, snapshot)
        job.links = [
            (qt_job.started, self._on_started),
            (qt_job.warning, self._on_warning),
            (qt_job.step, self._on_step),
            (qt_job.finished, self._on_finished),
            (qt_job.failed, self._on_failed),
            (qt_job.cancelled, self._on_cancelled),
        ]
        for signal, slot in job.links:
            signal.connect(slot)
        self.job = job
        self.busy_changed.emit(True)
        return qt_job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.job.cancel()

    def abandon(self) -> None:
        """The document is being replaced: cancel the running job, forget it and any candidates."""
        if self.job is not None:
            self.job.job.cancel()
            self._end_job()
        self.discard()

    # the job's events -----------------------------------------------------------------------------
    def _on_started(self, event: Started) -> None:
        if self.job is not None:
            self.job.plan = event.plan
            self.job.preview_base = preview_base(event.plan, self._doc().image)

    def _on_warning(self, text: str) -> None:
        """The job goes on; its message line says what the artist should know (e.g. a cut prompt)."""
        self.message.emit(text)

    def _on_step(self, event: Step) -> None:
        self.progress.emit(event.step, event.total)
        job = self.job
        if job is not None and job.preview_base is not None and event.preview is not None:
            patch = composite_preview(np.asarray(event.preview), job.preview_base)
            self.preview_changed.emit(patch, job.preview_base.box)  # what the artist will get, in place

    def _on_finished(self, event: Finished) -> None:
        job = self.job
        if job is None:
            return
        self._end_job()
        plan = job.plan
        if plan is None:  # the engine always sends Started first
            log.error("Job %d finished without a plan; results ignored", job.id)
            self.message.emit("The result came without its placement and was left out.")
            return
        results = [_as_rgb(img) for img in event.images]
        good = [r for r in results if (r.shape[1], r.shape[0]) == plan.result_size]
        params = event.parameters if len(event.parameters) == len(results) else [{}] * len(results)
        job.parameters = [
            p for r, p in zip(results, params, strict=True) if (r.shape[1], r.shape[0]) == plan.result_size
        ]
        if len(good) < len(results):
            w, h = plan.result_size
            log.error("Engine returned %d result(s) not %dx%d; ignored", len(results) - len(good), w, h)
            self.message.emit(
                f"{len(results) - len(good)} result(s) came back at the wrong size and were left out."
            )
        if good:
            self.candidates, self.candidate_job, self.index = good, job, 0
            self.seams, self.unfixed = {}, [None] * len(good)
            self._seam_tokens = [object() for _ in good]
            for index in range(len(good)):
                self._measure_seam(index)
        self.candidates_changed.emit(self.index, len(self.candidates))

    def _on_failed(self, event: Failed) -> None:
        if self.job is not None:
            self._end_job()
            self.message.emit(event.message)

    def _on_cancelled(self, event: Cancelled) -> None:
        if self.job is not None:
            self._end_job()

    def _end_job(self) -> None:
        """Stop following the job (nothing it emits later reaches this controller)."""
        if self.job is not None:
            for signal, slot in self.job.links:
                signal.disconnect(slot)
            self.job.links = []
        self.job = None
        self.preview_changed.emit(None, None)
        self.busy_changed.emit(False)

    # candidates -----------------------------------------------------------------------------------
    def current(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """The candidate on show and its origin in document pixels (negative when outpainted)."""
        if not self.candidates or self.candidate_job is None or self.candidate_job.plan is None:
            return None
        return self.candidates[self.index], self.candidate_job.plan.origin

    def show(self, step: int) -> None:
        if self.candidates:
            self.index = (self.index + step) % len(self.candidates)
            self.candidates_changed.emit(self.index, len(self.candidates))

    def discard(self) -> None:
        self.candidates, self.candidate_job, self.index = [], None, 0
        self.seams, self.unfixed, self._seam_tokens = {}, [], []
        self.candidates_changed.emit(0, 0)

    # seam check -----------------------------------------------------------------------------------
    def seam(self) -> SeamReport | None:
        """The seam report of the result on show (None while it is measured, or without a mask)."""
        return self.seams.get(self.index)

    def seam_measuring(self) -> bool:
        return self.has_candidates and self.index not in self.seams

    def seam_fixed(self) -> bool:
        return self.index < len(self.unfixed) and self.unfixed[self.index] is not None

    def toggle_seam_fix(self) -> None:
        """Colour-match the result on show along its seam (core.seams.blend_seam), or take the fix back.
        The fixed result is what Accept puts into the image (one undoable edit with it)."""
        job, i = self.candidate_job, self.index
        if job is None or job.plan is None or i >= len(self.candidates):
            return
        before = self.unfixed[i]
        if before is None:
            self.unfixed[i] = self.candidates[i]
            self.candidates[i] = fix_candidate(job.plan, self.candidates[i])
        else:
            self.candidates[i], self.unfixed[i] = before, None
        self._measure_seam(i)
        self.candidates_changed.emit(self.index, len(self.candidates))

    def _measure_seam(self, index: int) -> None:
        job = self.candidate_job
        if job is not None and job.plan is not None:
            self.seams.pop(index, None)
            self._seam_tokens[index] = object()
            self.seam_checker.measure(self._seam_tokens[index], index, job.plan, self.candidates[index])
            self.seam_changed.emit()

    def _on_seam_measured(self, token: object, index: int, report: SeamReport | None) -> None:
        if index < len(self._seam_tokens) and token is self._seam_tokens[index]:
            self.seams[index] = report
            self.seam_changed.emit()

    def accept(self) -> bool:
        cur, job = self.current(), self.candidate_job
        if cur is None or job is None or job.plan is None:
            return False
        doc = self._doc()
        if doc.image.shape != job.snapshot.shape:
            self.message.emit("The canvas changed size since this was generated; it cannot be placed.")
            return False
        plan, result = job.plan, _keep_document_pixels(job.plan, cur[0], job.snapshot, doc.image)
        if plan.mode is Mode.OUTPAINT:
            left, top, right, bottom = plan.margins
            doc.extend(left, top, right, bottom, image=result, label="Outpaint result")
        else:
            doc.apply_image(result, "Inpaint result")
        if self.index < len(job.parameters) and job.parameters[self.index]:
            doc.generation_parameters = job.parameters[self.index]  # what an exported PNG carries
        self._report_accepted_seam()
        self.discard()
        self.accepted.emit()
        return True

    def _report_accepted_seam(self) -> None:
        """The accepted result's seam measure, in the message line (its details)."""
        report = self.seam()
        if report is not None:
            fixed = " (seam fixed)" if self.seam_fixed() else ""
            self.message.emit(f"Result accepted{fixed}: {report.summary()}")


def _keep_document_pixels(
    plan: GenerationPlan, result: np.ndarray, snapshot: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """Where the plan's effective mask is 0 the engine kept the input: those pixels take the
    document's current values (exactly, and including any undo made while the job ran); the
    regenerated ones (mask > 0, e.g. an outpaint's overlap band) stay as generated."""
    out = result.copy()
    if plan.mask is None:
        return out
    (ox, oy), (h, w) = plan.origin, current.shape[:2]
    region = out[-oy : -oy + h, -ox : -ox + w]  # the document's place in the result
    keep = np.asarray(plan.mask)[-oy : -oy + h, -ox : -ox + w] == 0
    changed = (region != snapshot).any(axis=2) & keep
    if changed.any():
        log.warning("Result changed %d pixels outside the mask; restored them", int(changed.sum()))
    region[keep] = current[keep]
    return out


def _as_rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB")).copy()
