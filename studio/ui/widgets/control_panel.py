"""The Controls panel (issue 14): ControlNet, T2I-Adapter and IP-Adapter units for the next jobs.

One panel per workspace: the Generate tab's (image files as sources; its units follow the
view-model's `controls`, so presets, reused parameters and the remembered settings carry them) and the
canvas's (its layers and the flattened canvas are sources too, read when a job is submitted).

`units()` are the switched-on units without images (what presets and settings keep); `with_images()`
reads their images for a job (ControlImageError when a chosen source cannot be read). A unit without
an image or model is kept here; the engine's check says what it lacks and the artist fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QGroupBox, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from studio.core.control import MAX_CONTROL_UNITS, ControlKind, ControlUnit
from studio.core.user_files import guess_control_kind
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.control_editor import AskFile, AskFolder, ControlUnitEditor
from studio.ui.widgets.control_sources import FLATTENED, CanvasImages, is_usable_source, with_images

EMPTY_HINT = (
    "No controls. A ControlNet or T2I-Adapter follows a map (edges, a scribble, depth…); "
    "an IP-Adapter borrows the look of a reference picture."
)
KIND_HINTS = {
    ControlKind.CONTROLNET: ("ControlNet: follow a map", "Edges, a scribble, line art, depth…"),
    ControlKind.T2I_ADAPTER: ("T2I-Adapter: follow a map (txt2img)", "A lighter map follower"),
    ControlKind.IP_ADAPTER: ("IP-Adapter: borrow a picture's look", "A reference picture as an image prompt"),
}
THUMBNAIL_DELAY_MS = 400  # after a canvas change, the thumbnails of layer sources are made again


class ControlPanel(QGroupBox):
    changed = Signal()  # the units (or one's on/off) changed by the artist

    def __init__(self, ask_file: AskFile, ask_folder: AskFolder, parent: QWidget | None = None) -> None:
        super().__init__("Controls", parent)
        self.setObjectName("controlPanel")
        self._ask_file, self._ask_folder = ask_file, ask_folder
        self.editors: list[ControlUnitEditor] = []
        self._found: list[Path] = []
        self._canvas: CanvasImages | None = None
        self.add_button = QPushButton("Add control")
        self.add_button.setToolTip("Add a ControlNet, T2I-Adapter or IP-Adapter unit")
        menu = QMenu(self.add_button)
        self.add_actions = {kind: self._add_action(menu, kind) for kind in ControlKind}
        self.add_button.setMenu(menu)
        self.empty = QLabel(EMPTY_HINT)
        self.empty.setWordWrap(True)
        self.empty.setObjectName("dimLabel")
        self.rows = QVBoxLayout()
        self.rows.setContentsMargins(0, 0, 0, 0)
        box = QVBoxLayout(self)
        box.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(self.empty)
        box.addLayout(self.rows)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(THUMBNAIL_DELAY_MS)
        self._thumb_timer.timeout.connect(self.refresh_thumbnails)
        self._show_empty()

    def _add_action(self, menu: QMenu, kind: ControlKind) -> QAction:
        action = menu.addAction(KIND_HINTS[kind][0])
        action.setToolTip(KIND_HINTS[kind][1])
        action.triggered.connect(lambda _=False, k=kind: self.add_unit(k))
        return action

    # units ----------------------------------------------------------------------------------------
    def add_unit(self, kind: ControlKind) -> ControlUnitEditor | None:
        """A new unit of `kind`: the first found model of that type, and on the canvas its top layer."""
        if len(self.editors) >= MAX_CONTROL_UNITS:
            return None
        model = next((p for p in self._found if guess_control_kind(p) is kind), None)
        image_name = ""
        if self._canvas is not None and kind is not ControlKind.IP_ADAPTER:
            names = self._canvas.layer_names()
            image_name = names[0] if names else FLATTENED  # the top layer
        unit = ControlUnit(kind=kind, model=str(model or ""), image_name=image_name)
        editor = self._add_editor(unit, enabled=True)
        self._units_edited()
        return editor

    def units(self) -> tuple[ControlUnit, ...]:
        """The switched-on units, without images (what a preset or the settings keep)."""
        return tuple(editor.unit() for editor in self.editors if editor.is_enabled)

    def set_units(self, units: Sequence[ControlUnit]) -> None:
        """Show `units` (from a preset, reused parameters or the settings); the switched-off ones stay
        below them. Nothing is reported as an edit."""
        if tuple(units) == self.units():
            return
        off = [editor.unit() for editor in self.editors if not editor.is_enabled]
        self._clear()
        for unit in units:
            self._add_editor(unit, enabled=True)
        for unit in off[: MAX_CONTROL_UNITS - len(self.editors)]:
            self._add_editor(unit, enabled=False)
        self._show_empty()

    def with_images(self) -> tuple[ControlUnit, ...]:
        """The switched-on units with their images read now (ControlImageError: a source is unreadable)."""
        return with_images(self.units(), self._canvas)

    def missing_sources(self) -> list[str]:
        """Labels of switched-on units whose image source is not there (nothing chosen, a file gone)."""
        return [
            f"Control {i + 1} ({unit.kind.label})"
            for i, unit in enumerate(self.units())
            if not is_usable_source(unit.image_name, self._canvas)
        ]

    # what the units can use -----------------------------------------------------------------------
    def set_models(self, models: Iterable[Path]) -> None:
        """The models found in the control model folders, offered in every unit."""
        self._found = list(models)
        for editor in self.editors:
            editor.set_found(self._found)

    def set_canvas(self, canvas: CanvasImages | None) -> None:
        """The canvas whose layers are sources (None: image files only)."""
        self._canvas = canvas
        for editor in self.editors:
            editor.set_canvas(canvas)

    def canvas_changed(self, layers_changed: bool) -> None:
        """The canvas changed: the layer lists now, the thumbnails a moment later."""
        if layers_changed:
            for editor in self.editors:
                editor.refresh_sources()
        if self.editors:
            self._thumb_timer.start()

    def refresh_thumbnails(self) -> None:
        for editor in self.editors:
            editor.refresh_thumbnail()

    # editors --------------------------------------------------------------------------------------
    def _add_editor(self, unit: ControlUnit, enabled: bool) -> ControlUnitEditor:
        editor = ControlUnitEditor(unit, self._ask_file, self._ask_folder)
        editor.set_found(self._found)
        editor.set_canvas(self._canvas)
        editor.set_unit(unit, enabled)
        editor.changed.connect(self._units_edited)
        editor.remove_requested.connect(lambda e=editor: self._remove(e))
        self.editors.append(editor)
        self.rows.addWidget(editor)
        return editor

    def _remove(self, editor: ControlUnitEditor) -> None:
        self.editors.remove(editor)
        self.rows.removeWidget(editor)
        editor.hide()
        editor.deleteLater()
        self._units_edited()

    def _clear(self) -> None:
        for editor in self.editors:
            self.rows.removeWidget(editor)
            editor.hide()
            editor.deleteLater()
        self.editors = []

    def _units_edited(self) -> None:
        self._show_empty()
        self.changed.emit()

    def _show_empty(self) -> None:
        self.empty.setVisible(not self.editors)
        self.add_button.setEnabled(len(self.editors) < MAX_CONTROL_UNITS)


def bind_view_model(panel: ControlPanel, vm: RequestViewModel) -> None:
    """The Generate tab: the panel's switched-on units are the view-model's `controls` and follow it
    (a preset, reused parameters); each side syncs the other only when they differ."""
    panel.set_units(vm.controls)
    panel.changed.connect(lambda: vm.set("controls", panel.units()))
    vm.controls_changed.connect(panel.set_units)
