"""Model picker: the built-in model, models found in the model folders, and "Open model…"; or, when
jobs run on ComfyUI servers, the checkpoints the servers list (`show_server_models`, with a
"loading…" or error line meanwhile: `show_placeholder`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QMenu, QToolButton, QWidget

from studio.core.model_catalog import find_models
from studio.ui.icons import icon

log = logging.getLogger(__name__)

BUILTIN_LABEL = "Built-in (studio-mini)"


def discover_models(dirs: Sequence[Path]) -> list[tuple[str, str]]:
    """(label, ref) pairs from `studio.core.model_catalog.find_models`, built-in first.

    Guarded: when a model folder cannot be read, only the built-in model is offered."""
    entries: list[tuple[str, str]] = []
    try:
        for entry in find_models([Path(d) for d in dirs]):
            entries.append((BUILTIN_LABEL if entry.ref == "" else entry.name, entry.ref))
    except Exception:  # a folder it cannot read
        log.warning("Could not list models; offering the built-in model only", exc_info=True)
    if not any(ref == "" for _, ref in entries):
        entries.insert(0, (BUILTIN_LABEL, ""))
    return entries


class ModelPicker(QWidget):
    model_selected = Signal(str)  # ref ("" = built-in)

    def __init__(self, ask_file: Callable[[], str | None], ask_folder: Callable[[], str | None]) -> None:
        super().__init__()
        self._ask_file, self._ask_folder = ask_file, ask_folder
        self.combo = QComboBox()
        self.combo.setToolTip(
            "The model that generates the image. Models found in your model folders "
            "are listed; use Open to pick a .safetensors/.ckpt file or a diffusers folder."
        )
        self.combo.currentIndexChanged.connect(self._index_changed)
        self.open_button = QToolButton()
        self.open_button.setIcon(icon("open"))
        self.open_button.setToolTip("Open model… (a .safetensors/.ckpt file or a diffusers folder)")
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.open_button)
        menu.addAction("Open model file…", self.open_file)
        menu.addAction("Open model folder…", self.open_folder)
        self.open_button.setMenu(menu)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.open_button)
        self.local = True  # False: the list is a server's checkpoints (no local files to open)
        self.set_entries([(BUILTIN_LABEL, "")])

    def set_entries(self, entries: Sequence[tuple[str, str]]) -> None:
        """The local models (the built-in one, the model folders'); "Open…" offered."""
        current = self.current_ref()
        self._set_local(True)
        self._fill(entries)
        self.set_ref(current or "")

    def show_server_models(self, names: Sequence[str]) -> None:
        """The checkpoints the ComfyUI servers list; a request carries the name as the server spells it."""
        self._set_local(False)
        self._fill([(name, name) for name in names])

    def show_placeholder(self, text: str, detail: str = "") -> None:
        """One line instead of the list: the servers' models are loading, or could not be listed."""
        self._set_local(False)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem(text, None)
        self.combo.setItemData(0, detail or text, 3)  # ToolTipRole
        self.combo.blockSignals(False)

    def _set_local(self, local: bool) -> None:
        self.local = local
        self.open_button.setVisible(local)

    def _fill(self, entries: Sequence[tuple[str, str]]) -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        for label, ref in entries:
            self.combo.addItem(label, ref)
            self.combo.setItemData(self.combo.count() - 1, ref or "Built-in model", 3)  # ToolTipRole
        self.combo.blockSignals(False)

    def current_ref(self) -> str:
        data = self.combo.currentData()
        return str(data) if data is not None else ""

    def set_ref(self, ref: str) -> None:
        """Select `ref`, adding it to the list when it is not there (view-model -> widget)."""
        index = self.combo.findData(ref)
        self.combo.blockSignals(True)
        if index < 0:
            self.combo.addItem(Path(ref).name or ref, ref)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def _index_changed(self, _index: int) -> None:
        self.model_selected.emit(self.current_ref())

    def open_file(self) -> None:
        if self.local:
            self._choose(self._ask_file())

    def open_folder(self) -> None:
        if self.local:
            self._choose(self._ask_folder())

    def _choose(self, path: str | None) -> None:
        if path and self.local:  # a server cannot load a file from this computer
            self.set_ref(path)
            self.model_selected.emit(path)
