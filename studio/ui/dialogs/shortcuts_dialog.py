"""Help -> Keyboard shortcuts: a table of the window's shortcuts."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+Enter", "Generate (Generate tab; also in the prompt boxes)"),
    ("Esc", "Cancel the running generation (Generate tab)"),
    ("Ctrl+Shift+R", "Reuse the last seed"),
    ("Ctrl+R", "Toggle random seed"),
    ("Ctrl+S", "Save current settings as a preset (Generate tab)"),
    ("Ctrl+Shift+C", "Copy the shown image"),
    ("Ctrl+,", "Settings"),
    ("Ctrl+Q", "Quit"),
    ("F1", "This list of shortcuts"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, extra: Sequence[tuple[str, str]] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setMinimumSize(420, 360)
        rows = list(SHORTCUTS) + list(extra)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, action) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(action))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
