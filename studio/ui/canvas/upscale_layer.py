""" "Upscale layer…" on the canvas: the active layer's content (its bounds, alpha kept) goes to the
engine as an upscale job (`UpscaleOptions`: factor, upscaler, optional tiled refine); the result comes
back as a new layer above it, its top-left corner where the content's was (what reaches past the
canvas is cut, and the message line says so). The original layer is untouched; adding the layer is one
undo step. The job runs on the engine's worker; progress and errors go to the message line."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from studio.core.document import Document
from studio.core.events import Failed, Finished, Step
from studio.core.layers import Layer, LayerKind
from studio.core.request import GenerationRequest, Mode, UpscaleOptions
from studio.ui.bridge import QtJob
from studio.ui.dialogs.upscale_dialog import AskUpscale, ask_upscale

log = logging.getLogger(__name__)

Submit = Callable[[GenerationRequest], QtJob]


class LayerUpscaler(QObject):
    message = Signal(str)
    busy_changed = Signal(bool)
    layer_added = Signal(object)  # the new Layer

    def __init__(self, doc: Callable[[], Document], submit: Submit) -> None:
        super().__init__()
        self._doc, self._submit = doc, submit
        self.job: QtJob | None = None
        self._target: tuple[Document, Layer, tuple[int, int]] | None = None
        self.ask_upscale: AskUpscale = ask_upscale  # the dialog (tests answer it)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def content(self, index: int) -> Image.Image | None:
        """The layer's pixels within its bounds (straight RGBA), None for an empty layer."""
        layer = self._doc().layers[index]
        if layer.bounds is None:
            return None
        left, top, right, bottom = layer.bounds
        return Image.fromarray(np.ascontiguousarray(layer.rgba()[top:bottom, left:right]), "RGBA")

    def ask_and_start(
        self, index: int, base: GenerationRequest, parent: QWidget | None = None
    ) -> QtJob | None:
        """Ask for the options ("Upscale layer…": the model upscalers in `base.upscaler_dirs` on offer),
        then `start`; None when the layer is empty, the artist cancels, or the job cannot start."""
        from studio.core.user_files import find_upscalers

        layer = self._doc().layers[index]
        image = self.content(index)
        if image is None:
            self.message.emit(f"{layer.name} is empty: there is nothing to upscale.")
            return None
        models = [path.stem for path in find_upscalers(base.upscaler_dirs)]
        options = self.ask_upscale(parent, image.size, models, f"Upscale {layer.name}")
        return None if options is None else self.start(index, options, base)

    def start(self, index: int, options: UpscaleOptions, base: GenerationRequest) -> QtJob | None:
        """Submit the upscale of layer `index`; None (with a message) when it cannot start."""
        if self.busy:
            self.message.emit("An upscale is already running.")
            return None
        doc = self._doc()
        layer = doc.layers[index]
        image = self.content(index)
        if image is None or layer.bounds is None:
            self.message.emit(f"{layer.name} is empty: there is nothing to upscale.")
            return None
        request = base.replace(
            mode=Mode.IMG2IMG,
            init_image=image,
            mask=None,
            batch=1,
            controls=(),
            upscale=options,
            strength=options.refine or base.strength,
        )
        try:
            job = self._submit(request)
        except Exception as exc:  # the engine could not start
            log.exception("Submitting the upscale failed")
            self.message.emit(f"The engine could not start: {exc}")
            return None
        if job.rejection is not None:
            self.message.emit(job.rejection.message)
            return None
        self.job, self._target = job, (doc, layer, (layer.bounds[0], layer.bounds[1]))
        job.step.connect(self._on_step)
        job.finished.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(lambda _e: self.message.emit("Upscale cancelled."))
        job.ended.connect(self._on_ended)
        self.message.emit(f"Upscaling {layer.name}…")
        self.busy_changed.emit(True)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _on_step(self, event: Step) -> None:
        self.message.emit(f"Upscaling: step {event.step} of {event.total}")

    def _on_failed(self, event: Failed) -> None:
        self.message.emit(f"Upscale failed: {event.message}")

    def _on_finished(self, event: Finished) -> None:
        if self._target is None or not event.images:
            return
        doc, source, origin = self._target
        if doc is not self._doc() or source not in doc.layers:
            self.message.emit("The upscaled layer was not added: its canvas or layer is gone.")
            return
        pixels, cut = _placed(event.images[0], origin, (doc.width, doc.height))
        factor = event.request.upscale.scale
        name = f"{source.name} ×{factor:g}"
        if any(other.name == name for other in doc.layers):
            name = doc.unique_name(name)
        layer = Layer.from_rgba(name, pixels, LayerKind.IMAGE)
        doc.add_layer(layer=layer, index=doc.layers.index(source) + 1, label="Upscale layer")
        width, height = event.images[0].size
        note = " (the part past the canvas was cut)" if cut else ""
        self.message.emit(f"Added {layer.name}: {width} × {height}{note}")
        self.layer_added.emit(layer)

    def _on_ended(self, _event: object) -> None:
        self.job, self._target = None, None
        self.busy_changed.emit(False)


def _placed(image: Image.Image, origin: tuple[int, int], size: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """`image` (RGBA) at `origin` on a transparent `size` canvas; whether some of it fell outside."""
    width, height = size
    canvas = np.zeros((height, width, 4), np.uint8)
    rgba = np.asarray(image.convert("RGBA"))
    left, top = origin
    right, bottom = min(width, left + rgba.shape[1]), min(height, top + rgba.shape[0])
    canvas[top:bottom, left:right] = rgba[: bottom - top, : right - left]
    cut = right - left < rgba.shape[1] or bottom - top < rgba.shape[0]
    return canvas, cut
