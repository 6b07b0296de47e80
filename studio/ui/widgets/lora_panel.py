"""The artist's own files in the Generate tab: LoRAs with a weight each, the embeddings (a click puts
the name in the prompt), the VAE and clip skip. Bound to the `RequestViewModel` like the other controls:
edits call its setters, `loras_changed` / `vae_changed` / `clip_skip_changed` sync the widgets back
with their signals blocked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.request import LoraRef
from studio.core.user_files import find_embeddings, find_loras
from studio.ui.icons import icon
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.inputs import set_quietly
from studio.ui.widgets.vae_choice import VaeChoice

MIN_WEIGHT, MAX_WEIGHT, WEIGHT_STEP = -2.0, 2.0, 0.05


def weight_spin(value: float = 1.0) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(MIN_WEIGHT, MAX_WEIGHT)
    spin.setSingleStep(WEIGHT_STEP)
    spin.setDecimals(2)
    spin.setValue(value)
    spin.setKeyboardTracking(False)
    spin.setToolTip("How strongly the LoRA applies (1 = as trained, 0 = off, negative = the opposite)")
    return spin


class LoraPicker(QWidget):
    """Pick a LoRA found in the LoRA folders, give it a weight, add it; the chosen ones are listed
    below, each with its weight and a remove button."""

    def __init__(self, vm: RequestViewModel) -> None:
        super().__init__()
        self.vm = vm
        self.available = QComboBox()
        self.available.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.available.setMinimumContentsLength(10)  # a long name never widens the column past its view
        self.available.setToolTip(
            "LoRAs in the LoRA folders (Settings). <lora:name:weight> in the prompt works too."
        )
        self.weight = weight_spin()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Use this LoRA with this weight")
        self.add_button.clicked.connect(self._add)
        self.chosen = QGridLayout()
        self.chosen.setContentsMargins(0, 0, 0, 0)
        self.rows: dict[str, tuple[QLabel, QDoubleSpinBox, QToolButton]] = {}
        pick = QHBoxLayout()
        pick.addWidget(self.available, 1)
        pick.addWidget(self.weight)
        pick.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(pick)
        layout.addLayout(self.chosen)
        vm.loras_changed.connect(self.sync)
        self.set_found([])

    def set_found(self, paths: Iterable[Path]) -> None:
        """The LoRAs on offer (their stems are the names `request.loras` gets)."""
        self.available.clear()
        paths = list(paths)
        self.found = {path.stem: path for path in paths}  # name -> file (the few-step hint reads them)
        for path in paths:
            self.available.addItem(path.stem, path.stem)
        empty = self.available.count() == 0
        if empty:  # short: the column is narrow; the tooltip says where Studio looked
            self.available.addItem("No LoRAs found", None)
            self.available.setItemData(
                0, "No LoRA files in the LoRA folders (Settings)", Qt.ItemDataRole.ToolTipRole
            )
        self.available.setEnabled(not empty)
        self.add_button.setEnabled(not empty)

    def _add(self) -> None:
        name = self.available.currentData()
        if isinstance(name, str):
            self.vm.add_lora(name, self.weight.value())

    def sync(self, loras: tuple[LoraRef, ...] | None = None) -> None:
        """Rows for the chosen LoRAs, rebuilt from the view-model."""
        loras = self.vm.loras if loras is None else loras
        for label, spin, remove in self.rows.values():
            for widget in (label, spin, remove):
                self.chosen.removeWidget(widget)
                widget.hide()  # deleted when the event loop next runs; never drawn again
                widget.deleteLater()
        self.rows = {}
        for row, lora in enumerate(loras):
            self._add_row(row, lora)

    def _add_row(self, row: int, lora: LoraRef) -> None:
        label = QLabel(Path(lora.name).stem or lora.name)
        label.setToolTip(lora.name)
        spin = weight_spin(lora.weight)
        spin.valueChanged.connect(lambda value, name=lora.name: self.vm.add_lora(name, value))
        remove = QToolButton()
        remove.setIcon(icon("close"))
        remove.setToolTip(f"Stop using {label.text()}")
        remove.clicked.connect(lambda _=False, name=lora.name: self.vm.remove_lora(name))
        self.chosen.addWidget(label, row, 0)
        self.chosen.addWidget(spin, row, 1)
        self.chosen.addWidget(remove, row, 2)
        self.chosen.setColumnStretch(0, 1)
        self.rows[lora.name] = (label, spin, remove)


class EmbeddingList(QListWidget):
    """The embeddings in the embedding folders; clicking one asks to put its name in the prompt."""

    insert_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setToolTip("Textual inversion embeddings: click one to put its name in the prompt")
        self.setMinimumHeight(56)  # two names visible even in a crowded column
        self.setMaximumHeight(96)
        # long names are elided, never scrolled sideways (a scroll bar ate one of the two rows)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.itemClicked.connect(self._clicked)

    def set_found(self, paths: Iterable[Path]) -> None:
        self.clear()
        for path in paths:
            item = QListWidgetItem(path.stem)
            item.setToolTip(str(path))
            self.addItem(item)
        if self.count() == 0:
            placeholder = QListWidgetItem("No embeddings found")
            placeholder.setToolTip("No embedding files in the embedding folders (Settings)")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)  # shown, not clickable
            self.addItem(placeholder)

    def names(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count()) if _usable(self.item(i))]

    def _clicked(self, item: QListWidgetItem) -> None:
        if _usable(item):
            self.insert_requested.emit(item.text())


def _usable(item: QListWidgetItem) -> bool:
    return item.flags() != Qt.ItemFlag.NoItemFlags


class OwnFilesPanel(QGroupBox):
    """LoRAs, embeddings, VAE and clip skip, with the folders they are found in (`set_folders`)."""

    def __init__(self, vm: RequestViewModel, browse_vae: Callable[[], str | None]) -> None:
        super().__init__("LoRAs, embeddings, VAE")
        self.vm = vm
        self.loras = LoraPicker(vm)
        self.embeddings = EmbeddingList()
        self.vae = VaeChoice(vm, browse_vae)
        form = QFormLayout(self)
        form.addRow(self.loras)
        form.addRow("Embeddings", self.embeddings)
        form.addRow("VAE", self.vae.combo)
        form.addRow("Clip skip", self.vae.clip_skip)
        self.sync_all()

    def set_folders(
        self, lora_dirs: Iterable[str], embedding_dirs: Iterable[str], vae_dirs: Iterable[str]
    ) -> None:
        """Look for the files again (at start and when the settings' folders change)."""
        self.loras.set_found(find_loras(lora_dirs))
        self.embeddings.set_found(find_embeddings(embedding_dirs))
        self.vae.set_folders(vae_dirs)

    def sync_all(self) -> None:
        self.loras.sync()
        self.vae.sync()
        set_quietly(self.vae.clip_skip, "setValue", self.vm.clip_skip)
