"""Presets: apply, save current settings as a preset, rename, duplicate, delete, import/export,
import A1111 styles.csv. Backed by `studio.core.presets.PresetStore`; its `problems` (files set aside)
are shown to the artist."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from studio.core.presets import Preset, PresetStore
from studio.core.request import GenerationRequest
from studio.ui.dialogs.prompts import Prompts
from studio.ui.icons import icon

log = logging.getLogger(__name__)
T = TypeVar("T")
PRESET_FILTER = "Studio presets (*.json)"
STYLES_FILTER = "A1111 styles (*.csv)"


class PresetsPanel(QWidget):
    apply_requested = Signal(object)  # the chosen studio.core.presets.Preset
    problems_found = Signal(list)  # human messages

    def __init__(
        self, store: PresetStore, prompts: Prompts, current_request: Callable[[], GenerationRequest]
    ) -> None:
        super().__init__()
        self.store = store
        self.prompts = prompts
        self._current_request = current_request
        self.combo = QComboBox()
        self.combo.setToolTip("Saved settings. Built-in presets are read-only (duplicate them to edit).")
        self.combo.setPlaceholderText("Choose a preset…")
        self.combo.activated.connect(lambda _i: self.apply_selected())
        self.apply_button = QToolButton()
        self.apply_button.setIcon(icon("check"))
        self.apply_button.setToolTip("Apply the selected preset")
        self.apply_button.clicked.connect(self.apply_selected)
        self.menu_button = QToolButton()
        self.menu_button.setIcon(icon("preset"))
        self.menu_button.setToolTip("Save, rename, duplicate, delete, import and export presets")
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = self.build_menu(self)
        self.menu_button.setMenu(self.menu)
        self.shown_problems: list[str] = []
        self.problem_label = QLabel()
        self.problem_label.setObjectName("warningLabel")
        self.problem_label.setWordWrap(True)
        dismiss = QToolButton()
        dismiss.setIcon(icon("close"))
        dismiss.setToolTip("Dismiss")
        dismiss.clicked.connect(self.dismiss_problems)
        self.problem_box = QWidget()
        problem_row = QHBoxLayout(self.problem_box)
        problem_row.setContentsMargins(0, 2, 0, 2)
        problem_row.addWidget(self.problem_label, 1)
        problem_row.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.problem_box.setVisible(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.apply_button)
        row.addWidget(self.menu_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.problem_box)
        self.refresh()

    def build_menu(self, parent: QWidget) -> QMenu:
        """The preset actions (also used for the window's Presets menu)."""
        menu = QMenu("&Presets", parent)
        entries: list[tuple[str, str, Callable[[], None]]] = [
            ("save", "Save current settings as preset…", self.save_current),
            ("rename", "Rename…", self.rename_selected),
            ("duplicate", "Duplicate…", self.duplicate_selected),
            ("delete", "Delete…", self.delete_selected),
            ("", "", lambda: None),
            ("import", "Import preset file…", self.import_file),
            ("export", "Export preset…", self.export_selected),
            ("styles", "Import A1111 styles.csv…", self.import_styles),
        ]
        for name, label, slot in entries:
            if not name:
                menu.addSeparator()
                continue
            action = QAction(label, menu)
            action.setObjectName(f"preset_{name}")
            action.triggered.connect(slot)
            menu.addAction(action)
        return menu

    # -- list -------------------------------------------------------------------------------------
    def presets(self) -> list[Preset]:
        try:
            return list(self.store.list())
        except Exception:
            log.exception("Could not list presets")
            return []

    def refresh(self, select: str | None = None) -> None:
        select = select or self.selected_name()
        self.combo.blockSignals(True)
        self.combo.clear()
        for preset in self.presets():
            label = f"{preset.name}  (built-in)" if preset.builtin else preset.name
            self.combo.addItem(label, preset.name)
        index = self.combo.findData(select) if select is not None else -1
        self.combo.setCurrentIndex(index)  # -1 shows the placeholder: nothing applied yet
        self.combo.blockSignals(False)
        self._update_problems()

    def _update_problems(self) -> None:
        """Move the store's new problems (files set aside) into the panel's warning, shown until dismissed."""
        new = [p for p in self.store.problems if p not in self.shown_problems]
        self.store.problems.clear()
        if not new:
            return
        self.shown_problems.extend(new)
        self.problem_label.setText("\n".join(self.shown_problems))
        self.problem_box.setVisible(True)
        self.problems_found.emit(new)

    def dismiss_problems(self) -> None:
        self.shown_problems.clear()
        self.problem_box.setVisible(False)

    def selected_name(self) -> str | None:
        data = self.combo.currentData()
        return str(data) if data is not None else None

    def select(self, name: str) -> None:
        index = self.combo.findData(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def _selected(self) -> Preset | None:
        name = self.selected_name()
        return next((p for p in self.presets() if p.name == name), None)

    # -- actions ----------------------------------------------------------------------------------
    def apply_selected(self) -> None:
        preset = self._selected()
        if preset is not None:
            self.apply_requested.emit(preset)

    def save_current(self) -> None:
        name = self.prompts.ask_text("Save preset", "Name for the current settings:")
        if name:
            existing = self.store.get(name)
            replace = f"Replace the preset “{name}”?"
            if (
                existing is not None
                and not existing.builtin
                and not self.prompts.confirm("Replace preset", replace)
            ):
                return
            preset = Preset.capture(name, self._current_request())
            self._run(lambda: self.store.save(preset), select=name)

    def rename_selected(self) -> None:
        preset = self._selected()
        if preset is None or self._refuse_builtin(preset, "renamed"):
            return
        new = self.prompts.ask_text("Rename preset", "New name:", preset.name)
        if new and new != preset.name:
            self._run(lambda: self.store.rename(preset.name, new), select=new)

    def duplicate_selected(self) -> None:
        preset = self._selected()
        if preset is None:
            return
        new = self.prompts.ask_text("Duplicate preset", "Name of the copy:", f"{preset.name} copy")
        if new:
            self._run(lambda: self.store.duplicate(preset.name, new), select=new)

    def delete_selected(self) -> None:
        preset = self._selected()
        if preset is None or self._refuse_builtin(preset, "deleted"):
            return
        if self.prompts.confirm("Delete preset", f"Delete the preset “{preset.name}”?"):
            self._run(lambda: self.store.delete(preset.name))

    def import_file(self) -> None:
        path = self.prompts.open_file("Import preset", PRESET_FILTER)
        if path:
            result = self._run(lambda: self.store.import_file(Path(path)))
            if result is not None and result.name:
                self.refresh(select=result.name)

    def export_selected(self) -> None:
        preset = self._selected()
        if preset is None:
            return
        path = self.prompts.save_file("Export preset", f"{preset.name}.json", PRESET_FILTER)
        if path:
            self._run(lambda: self.store.export(preset.name, Path(path)))

    def import_styles(self) -> None:
        path = self.prompts.open_file("Import A1111 styles", STYLES_FILTER)
        if not path:
            return
        imported = self._run(lambda: self.store.import_styles_csv(Path(path)))
        if imported is not None:
            names = [p.name for p in imported]
            self.prompts.info(
                "Styles imported", f"Imported {len(names)} style(s) as presets:\n" + "\n".join(names)
            )
            if names:
                self.refresh(select=names[0])

    def _refuse_builtin(self, preset: Preset, verb: str) -> bool:
        if preset.builtin:
            self.prompts.info("Built-in preset", f"Built-in presets cannot be {verb}; duplicate it first.")
            return True
        return False

    def _run(self, action: Callable[[], T], select: str | None = None) -> T | None:
        try:
            result = action()
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Preset action failed: %s", exc)
            self.prompts.info("Presets", str(exc) or type(exc).__name__)
            self.refresh()
            return None
        self.refresh(select=select)
        return result
