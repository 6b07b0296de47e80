"""The canvas workspace: view + tools + inpaint/outpaint + candidates + autosave, one self-contained tab.

Collaborators come in by injection: `submit(request) -> QtJob` (the job's own signals; the canvas
follows and cancels it through them), a `request_provider()` that returns the settings shared with the
Generate tab (model, LoRAs, VAE, folders, previews: shown in the generation panel, never hidden), and
the autosave folder. Prompt, strength, batch, seed and sampler are the canvas's own (`CanvasGenPanel`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.core.document import Document, Rect
from studio.core.request import GenerationRequest
from studio.ui.bridge import QtJob
from studio.ui.canvas import overlays
from studio.ui.canvas.autosave import AutosaveWriter, Restorable
from studio.ui.canvas.control_layers import DocumentImages
from studio.ui.canvas.fileops import FileCommands
from studio.ui.canvas.gen_panel import CanvasGenPanel
from studio.ui.canvas.generation import CanvasGenerationController, Submit
from studio.ui.canvas.layers_panel import ColourBrushBox, LayersPanel
from studio.ui.canvas.panels import CandidateBar, InpaintPanel, OutpaintPanel
from studio.ui.canvas.toolbar import CanvasActions, build_toolbar, tool_indicator
from studio.ui.canvas.upscale_layer import LayerUpscaler
from studio.ui.canvas.view import CanvasView
from studio.ui.dialogs.prompts import Prompts
from studio.ui.widgets.control_panel import ControlPanel
from studio.ui.widgets.control_sources import ControlImageError

log = logging.getLogger(__name__)
AUTOSAVE_DELAY_MS = 2000
UnsavedChoice = Callable[[QWidget], str]  # returns "save", "discard" or "cancel"


def ask_unsaved(parent: QWidget) -> str:
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        "The canvas has changes that are not saved.",
        buttons.Save | buttons.Discard | buttons.Cancel,
        buttons.Save,
    )
    return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")


class CanvasWorkspace(FileCommands, QWidget):
    title_changed = Signal(str)
    message = Signal(str)

    def __init__(
        self,
        submit: Submit,
        request_provider: Callable[[], GenerationRequest],
        autosave_dir: Path,
        parent: QWidget | None = None,
        *,
        document: Document | None = None,
        autosave_delay_ms: int = AUTOSAVE_DELAY_MS,
        unsaved_choice: UnsavedChoice = ask_unsaved,
        generation_settings: GenerationRequest | None = None,
        random_seed: bool = True,
    ) -> None:
        super().__init__(parent)
        self.doc = document or Document.blank(1024, 1024)
        self.autosave_dir = Path(autosave_dir)
        self.autosave = AutosaveWriter(self.autosave_dir)
        self.unsaved_choice = unsaved_choice
        self.view = CanvasView(self.doc)
        self._shared_request = request_provider
        self.gen_panel = CanvasGenPanel(generation_settings, random_seed=random_seed)
        self.prompts = Prompts(self)  # file questions of the Controls panel (tests answer them)
        self.control_panel = ControlPanel(
            lambda title, filt: self.prompts.open_file(title, filt),
            lambda title: self.prompts.open_folder(title),
        )
        self.control_panel.set_canvas(DocumentImages(lambda: self.doc))  # layers are control sources
        self.generation = CanvasGenerationController(lambda: self.doc, submit, self.generation_request)
        self.inpaint_panel, self.outpaint_panel = InpaintPanel(), OutpaintPanel()
        self.candidate_bar = CandidateBar()
        self.layers_panel, self.colour_box = LayersPanel(self.doc), ColourBrushBox(self.view.tools.settings)
        self.layer_upscaler = LayerUpscaler(lambda: self.doc, submit)  # "Upscale…" in the Layers panel
        self.status = QLabel()
        self.tool_label = QLabel()  # the active tool (and brush size), always on show
        self.tool_label.setObjectName("activeTool")
        self._region_timer = _single_shot(self, 250, self._update_region)
        self.cancel_button = QPushButton("Cancel")
        self._autosave_timer = _single_shot(self, autosave_delay_ms, self.autosave_now)
        self._effective_timer = _single_shot(self, 300, self._update_effective)
        self._autosaved_version = self.doc.version
        self._shown_dirty = self.doc.dirty
        self.actions_ = CanvasActions(self, self)
        self._layout(build_toolbar(self, self.actions_))
        self._connect()
        self.setAcceptDrops(True)
        self._watch(self.doc)
        self.refresh_shared()

    # construction ---------------------------------------------------------------------------------
    def _layout(self, toolbar: QWidget) -> None:
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(toolbar)
        left.addWidget(self.view, 1)
        left.addWidget(self.candidate_bar)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.tool_label)
        row.addWidget(self.cancel_button)
        left.addLayout(row)
        side = QWidget()
        side_box = QVBoxLayout(side)
        side_box.addWidget(self.gen_panel)
        side_box.addWidget(self.control_panel)
        side_box.addWidget(self.inpaint_panel)
        side_box.addWidget(self.outpaint_panel)
        side_box.addWidget(self.layers_panel)
        side_box.addWidget(self.colour_box)
        side_box.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(left, 1)
        box.addWidget(scroll)
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setFixedWidth(side.minimumSizeHint().width() + bar + 2 * scroll.frameWidth())
        self.cancel_button.setVisible(False)

    def _connect(self) -> None:
        g = self.generation
        g.busy_changed.connect(self._busy_changed)
        g.candidates_changed.connect(self._candidates_changed)
        g.preview_changed.connect(self.view.set_preview)
        g.progress.connect(lambda step, total: self._show_status(f"Generating: step {step} of {total}"))
        g.message.connect(self._show_message)
        g.accepted.connect(self._after_accept)
        self.view.colour_picked.connect(self.colour_box.show_colour)
        self.layers_panel.upscale_requested.connect(self.upscale_layer)
        self.layer_upscaler.message.connect(self._show_message)
        self.layer_upscaler.busy_changed.connect(lambda busy: self.cancel_button.setVisible(busy or g.busy))
        self.cancel_button.clicked.connect(self.layer_upscaler.cancel)
        self.view.message.connect(self._show_message)
        self.cancel_button.clicked.connect(g.cancel)
        bar = self.candidate_bar
        bar.prev.clicked.connect(lambda: g.show(-1))
        bar.next.clicked.connect(lambda: g.show(1))
        bar.accept.clicked.connect(self.accept_candidate)
        bar.discard.clicked.connect(g.discard)
        bar.compare.pressed.connect(lambda: self.view.set_comparing(True))
        bar.compare.released.connect(lambda: self.view.set_comparing(False))
        self.inpaint_panel.generate.connect(self.inpaint)
        self.gen_panel.generate_requested.connect(self.inpaint)
        self.inpaint_panel.changed.connect(self._options_changed)
        self.outpaint_panel.generate.connect(self.outpaint)
        self.outpaint_panel.extend_only.connect(self.extend_canvas)
        self.outpaint_panel.amounts_changed.connect(self.view.set_extend)
        self.view.extend_changed.connect(lambda *a: self.outpaint_panel.set_amounts(*a))
        self.view.zoom_changed.connect(lambda s: self._show_status())
        g.seam_changed.connect(self._show_seam)
        bar.fix_seam.clicked.connect(g.toggle_seam_fix)
        self.view.tool_changed.connect(lambda _tool: self._show_tool())
        self.view.brush_size_changed.connect(lambda _size: self._show_tool())
        self._show_tool()

    def _watch(self, doc: Document) -> None:
        doc.add_listener(self._doc_changed)
        self.actions_.refresh_undo()
        self._show_status()

    # generation -----------------------------------------------------------------------------------
    def generation_request(self) -> GenerationRequest:
        """What the next job uses: the shared settings (shown again) with the panel's fields."""
        shared = self._shared_request()
        self.gen_panel.show_shared(shared)
        # the control images are read now: a layer gives its pixels as they are (ControlImageError)
        return self.gen_panel.request(shared).replace(controls=self.control_panel.with_images())

    def upscale_layer(self) -> QtJob | None:
        """ "Upscale layer…": the active layer into a new layer, with the canvas's prompt and the shared
        model for an optional refine."""
        base = self.gen_panel.request(self._shared_request())
        return self.layer_upscaler.ask_and_start(self.doc.active_index, base, self)

    def refresh_shared(self) -> None:
        """Show the shared settings again (the Generate tab's model or LoRAs changed)."""
        self.gen_panel.show_shared(self._shared_request())

    def inpaint(self) -> QtJob | None:
        try:
            return self.generation.inpaint(self.inpaint_panel.options())
        except ControlImageError as exc:  # the unit stays in the Controls panel to be fixed
            self._show_message(str(exc))
            return None

    def outpaint(self) -> QtJob | None:
        """Grow/feather from the inpaint panel; how the new area is pre-filled from the outpaint panel."""
        options = dataclasses.replace(
            self.inpaint_panel.options(), infill=self.outpaint_panel.infill_method()
        )
        try:
            return self.generation.outpaint(self.outpaint_panel.options(), options)
        except ControlImageError as exc:
            self._show_message(str(exc))
            return None

    def extend_canvas(self) -> None:
        """Grow the canvas by the outpaint amounts without generating (white margins; undoable)."""
        left, top, right, bottom = self.outpaint_panel.amounts()
        if self.generation.busy or self.generation.has_candidates or not any((left, top, right, bottom)):
            return
        self.doc.extend(left, top, right, bottom)
        self._after_accept()

    def accept_candidate(self) -> bool:
        return self.generation.accept()

    def _after_accept(self) -> None:
        self.outpaint_panel.set_amounts(0, 0, 0, 0)
        self.view.set_extend(0, 0, 0, 0)
        self.autosave_now()

    def _busy_changed(self, busy: bool) -> None:
        self.cancel_button.setVisible(busy)
        self.actions_.set_busy(busy)
        self._update_buttons()
        self._show_status("Generating…" if busy else "")

    def _candidates_changed(self, index: int, count: int) -> None:
        self.candidate_bar.set_state(index, count)
        self.actions_.set_candidates(count > 0)
        cur = self.generation.current()
        self.view.set_override(*cur) if cur else self.view.set_override(None)
        self._show_seam()
        self._update_buttons()

    def _update_buttons(self) -> None:
        free = not self.generation.busy and not self.generation.has_candidates
        self.inpaint_panel.button.setEnabled(free)
        self.outpaint_panel.button.setEnabled(free)
        self.outpaint_panel.extend_button.setEnabled(free)

    # document -------------------------------------------------------------------------------------
    def _doc_changed(self, rect: Rect | None) -> None:
        self._autosave_timer.start()
        self.control_panel.canvas_changed(layers_changed=rect is None or self.doc.last_layers_change)
        if rect is None or self.doc.last_change[1]:  # the mask changed: the region may have too
            self._region_timer.start()
        if self.doc.dirty != self._shown_dirty:
            self._emit_title()
        self.actions_.refresh_undo()
        if self.actions_.effective.isChecked():
            self._effective_timer.start()
        if rect is None:
            self._show_status()

    def set_document(self, doc: Document) -> bool:
        """Replace the document (asks about unsaved changes first); False if the artist cancelled."""
        if not self._resolve_unsaved():
            return False
        self._switch(doc, AutosaveWriter(self.autosave_dir))
        return True

    def restore(self, item: Restorable) -> None:
        """Continue from an autosave left by a crash (keeps writing into the same folder)."""
        self._switch(item.load(), AutosaveWriter(self.autosave_dir, folder=item.folder))

    def _switch(self, doc: Document, writer: AutosaveWriter) -> None:
        self.generation.abandon()
        self.doc.remove_listener(self._doc_changed)
        self._autosave_timer.stop()
        self.autosave.close_clean()
        self.autosave, self.doc = writer, doc
        self._autosaved_version = doc.version
        self.outpaint_panel.set_amounts(0, 0, 0, 0)
        self.view.set_extend(0, 0, 0, 0)
        self.view.set_document(doc)
        self.layers_panel.set_document(doc)
        self.control_panel.canvas_changed(layers_changed=True)
        self._watch(doc)
        self._emit_title()

    def _emit_title(self) -> None:
        self._shown_dirty = self.doc.dirty
        self.title_changed.emit(self.title())

    def title(self) -> str:
        name = self.doc.path.name if self.doc.path else "Untitled"
        return f"{name}*" if self.doc.dirty else name

    # keys: the canvas's shortcuts win over the main window's while focus is inside the canvas --------
    def event(self, event: QEvent) -> bool:
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.ShortcutOverride
            and self.actions_.for_key(event) is not None
        ):
            event.accept()  # the key press then comes to keyPressEvent instead of the shortcut map
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        action = self.actions_.for_key(event)
        if action is None:
            super().keyPressEvent(event)
        else:
            action.trigger()

    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, action) of the canvas, for Help → Keyboard shortcuts."""
        return self.actions_.shortcut_rows()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        """The canvas's shortcuts work as soon as its tab is shown: focus goes to the view (unless it is
        already inside the workspace), and the shared settings are shown as they are now."""
        super().showEvent(event)
        self.refresh_shared()
        focus = QApplication.focusWidget()
        if focus is None or not self.isAncestorOf(focus):
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def undo(self) -> None:
        if not self.generation.has_candidates and not self.view.tools.state.active:
            self.doc.undo()

    def redo(self) -> None:
        if not self.generation.has_candidates and not self.view.tools.state.active:
            self.doc.redo()

    # closing and autosave -------------------------------------------------------------------------
    def maybe_close(self) -> bool:
        """Ask about unsaved changes; True if the workspace may close (autosave is then removed)."""
        if not self._resolve_unsaved():
            return False
        self.generation.cancel()
        self._autosave_timer.stop()
        self.autosave.close_clean()
        return True

    def _resolve_unsaved(self) -> bool:
        if not self.doc.dirty and not self.generation.has_candidates:
            return True
        choice = self.unsaved_choice(self)
        if choice == "save":
            return self.save_image()
        return choice == "discard"

    def autosave_now(self) -> None:
        self._autosave_timer.stop()
        if self.doc.version == self._autosaved_version:
            return
        self._autosaved_version = self.doc.version
        self.autosave.save(self.doc)

    # mask preview and status ----------------------------------------------------------------------
    def set_effective_preview(self, on: bool) -> None:
        if on:
            self._update_effective()
        else:
            self.view.show_mask_array(None)

    def _options_changed(self) -> None:
        self._region_timer.start()
        if self.actions_.effective.isChecked():
            self._effective_timer.start()

    def _update_region(self) -> None:
        """Outline what an inpaint would generate into (the selection's box at the model's size)."""
        options, side = self.inpaint_panel.options(), self.gen_panel.native_side
        self.view.set_region(overlays.inpaint_region(self.doc.size, self.doc.mask_pil(), options, side))

    def _show_seam(self) -> None:
        """The seam figure of the result on show; its worst stretch outlined when it is flagged."""
        g = self.generation
        report, fixed, current = g.seam(), g.seam_fixed(), g.current()
        self.candidate_bar.set_seam(report, fixed, g.seam_measuring())
        box = report.worst_box if report is not None and report.flagged and current else None
        if box is not None and current is not None:
            (ox, oy), (x0, y0, x1, y1) = current[1], box
            box = (x0 + ox, y0 + oy, x1 + ox, y1 + oy)  # result pixels -> document pixels
        self.view.set_seam_box(box)

    def _show_tool(self) -> None:
        self.tool_label.setText(tool_indicator(self.view.tools.tool.value, self.view.tools.settings.size))

    def _update_effective(self) -> None:
        if not self.actions_.effective.isChecked():
            return
        from studio.core.masks import effective_mask

        o = self.inpaint_panel.options()
        eff = effective_mask(Image.fromarray(self.doc.mask, "L"), o.grow, o.feather)
        self.view.show_mask_array(np.asarray(eff).copy())

    def _show_message(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

    def _show_status(self, text: str = "") -> None:
        w, h = self.doc.size
        self.status.setText(f"{w} × {h}   {self.view.scale * 100:.0f}%   {text}".rstrip())


def _single_shot(parent: QWidget, ms: int, slot: Callable[[], None]) -> QTimer:
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(ms)
    timer.timeout.connect(slot)
    return timer
