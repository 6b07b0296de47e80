"""The Layers panel and the colour brush's settings, beside the canvas.

Every change goes through the Document's methods, so each is one undo step; the panel only shows the
document and refreshes when it says its stack changed (`Document.last_layers_change`).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from studio.core.document import Document, Rect
from studio.core.layers import Layer, LayerKind
from studio.ui.canvas.tools import BrushSettings

KIND_MARKS = {LayerKind.IMAGE: "▣", LayerKind.PAINT: "✎", LayerKind.RESULT: "★"}


class LayersPanel(QGroupBox):
    """Layers, top first: a check box shows/hides a layer, double-click renames it, a click selects
    the layer the colour brush paints; the active layer's opacity; add, delete, move, merge, flatten."""

    message = Signal(str)
    upscale_requested = Signal()  # "Upscale…": the active layer (the workspace runs it)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__("Layers", parent)
        self.doc = doc
        self._updating = False
        self.list = QListWidget()
        self.list.setMinimumHeight(120)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity_label = QLabel()
        self.buttons: dict[str, QPushButton] = {}
        self._build()
        self.set_document(doc)

    # construction ---------------------------------------------------------------------------------
    def _build(self) -> None:
        box = QVBoxLayout(self)
        box.addWidget(self.list)
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_label)
        box.addLayout(row)
        grid = QGridLayout()
        specs: tuple[tuple[str, str, str, Callable[[], object]], ...] = (
            ("add", "Add", "Add an empty paint layer above the selected one", self.add_layer),
            ("delete", "Delete", "Delete the selected layer", self.delete_layer),
            ("up", "Up", "Move the selected layer up", lambda: self.move_active(1)),
            ("down", "Down", "Move the selected layer down", lambda: self.move_active(-1)),
            ("merge", "Merge down", "Merge the selected layer into the one below", self.merge_down),
            ("flatten", "Flatten", "Flatten all layers into one image layer", self.flatten),
            (
                "upscale",
                "Upscale…",
                "Upscale the selected layer into a new layer (Lanczos or a model upscaler, optional refine)",
                self.upscale_requested.emit,
            ),
        )
        for i, (name, text, tip, slot) in enumerate(specs):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, s=slot: s())
            grid.addWidget(button, i // 2, i % 2)
            self.buttons[name] = button
        box.addLayout(grid)
        self.list.currentRowChanged.connect(self._row_selected)
        self.list.itemChanged.connect(self._item_changed)
        self.opacity.valueChanged.connect(self._opacity_moved)
        self.opacity.sliderReleased.connect(lambda: self.doc.seal())

    def set_document(self, doc: Document) -> None:
        self.doc.remove_listener(self._doc_changed)
        self.doc = doc
        doc.add_listener(self._doc_changed)
        self.refresh()

    # document -> panel ----------------------------------------------------------------------------
    def _doc_changed(self, rect: Rect | None) -> None:
        if self.doc.last_layers_change or rect is None:
            self.refresh()

    def refresh(self) -> None:
        """Show the document's layers, top first, and the active layer's opacity."""
        self._updating = True
        try:
            doc = self.doc
            self.list.clear()
            for layer in reversed(doc.layers):
                self.list.addItem(_item(layer))
            self.list.setCurrentRow(self._row(doc.active_index))
            self.opacity.setValue(round(doc.active_layer.opacity * 100))
            self.opacity_label.setText(f"{round(doc.active_layer.opacity * 100)} %")
            top, bottom = doc.active_index == len(doc.layers) - 1, doc.active_index == 0
            self.buttons["delete"].setEnabled(len(doc.layers) > 1)
            self.buttons["up"].setEnabled(not top)
            self.buttons["down"].setEnabled(not bottom)
            self.buttons["merge"].setEnabled(not bottom)
            self.buttons["flatten"].setEnabled(len(doc.layers) > 1)
        finally:
            self._updating = False

    def _row(self, index: int) -> int:
        return len(self.doc.layers) - 1 - index

    # panel -> document ----------------------------------------------------------------------------
    def _row_selected(self, row: int) -> None:
        if not self._updating and row >= 0:
            self.doc.set_active(self._row(row))

    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        index = self._row(self.list.row(item))
        visible = item.checkState() == Qt.CheckState.Checked
        layer = self.doc.layers[index]
        name = item.text().removeprefix(f"{KIND_MARKS[layer.kind]} ")  # the mark is not part of the name
        if visible != layer.visible:
            self.doc.set_layer_visible(index, visible)
        elif name.strip() and name != layer.name:
            self.doc.rename_layer(index, name)
        else:
            self.refresh()  # an empty name: show the old one again

    def _opacity_moved(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        if not self._updating:
            self.doc.set_layer_opacity(self.doc.active_index, value / 100)

    def add_layer(self) -> Layer:
        return self.doc.add_layer()

    def delete_layer(self) -> None:
        if len(self.doc.layers) > 1:
            self.doc.delete_layer(self.doc.active_index)

    def move_active(self, step: int) -> None:
        index = self.doc.active_index
        if 0 <= index + step < len(self.doc.layers):
            self.doc.move_layer(index, index + step)

    def merge_down(self) -> None:
        if self.doc.active_index > 0:
            self.doc.merge_down(self.doc.active_index)

    def flatten(self) -> None:
        if len(self.doc.layers) > 1:
            self.doc.flatten()


def _item(layer: Layer) -> QListWidgetItem:
    """A row: the kind's mark and the name (editable), a check box for visibility."""
    item = QListWidgetItem(f"{KIND_MARKS[layer.kind]} {layer.name}")
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable)
    item.setCheckState(Qt.CheckState.Checked if layer.visible else Qt.CheckState.Unchecked)
    tip = f"{layer.kind.value} layer, opacity {round(layer.opacity * 100)} %"
    item.setToolTip(tip + ("" if layer.bounds else " (empty)"))
    return item


class ColourBrushBox(QGroupBox):
    """The colour brush's colour (a swatch opening the colour dialog; the eyedropper sets it too),
    opacity, and whether pen pressure scales the opacity (size and hardness are in the tool bar)."""

    def __init__(self, settings: BrushSettings, parent: QWidget | None = None) -> None:
        super().__init__("Colour brush (P), eyedropper (I)", parent)
        self.settings = settings
        self.swatch = QPushButton()
        self.swatch.setToolTip("Choose the colour (the eyedropper, I, picks one from the canvas)")
        self.swatch.clicked.connect(self.choose_colour)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(1, 100)
        self.opacity.setValue(round(settings.opacity * 100))
        self.opacity.valueChanged.connect(lambda v: setattr(self.settings, "opacity", v / 100))
        self.pressure = QCheckBox("Pressure sets opacity")
        self.pressure.setToolTip("Tablet pen pressure scales the colour brush's opacity")
        self.pressure.setChecked(settings.pressure_opacity)
        self.pressure.toggled.connect(lambda on: setattr(self.settings, "pressure_opacity", on))
        grid = QGridLayout(self)
        grid.addWidget(QLabel("Colour"), 0, 0)
        grid.addWidget(self.swatch, 0, 1)
        grid.addWidget(QLabel("Opacity"), 1, 0)
        grid.addWidget(self.opacity, 1, 1)
        grid.addWidget(self.pressure, 2, 0, 1, 2)
        self.show_colour(settings.colour)

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self.settings.colour), self, "Brush colour")
        if colour.isValid():
            self.set_colour((colour.red(), colour.green(), colour.blue()))

    def set_colour(self, rgb: tuple[int, int, int]) -> None:
        self.settings.colour = rgb
        self.show_colour(rgb)

    def show_colour(self, rgb: tuple[int, int, int]) -> None:
        pixmap = QPixmap(40, 16)
        pixmap.fill(QColor(*rgb))
        self.swatch.setIcon(QIcon(pixmap))
        self.swatch.setText("#{:02x}{:02x}{:02x}".format(*rgb))
