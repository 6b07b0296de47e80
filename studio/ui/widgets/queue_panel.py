"""The queue list under the preview: the running job and the waiting ones (prompt excerpt, status),
with cancel and move up/down for the selected one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QToolButton, QVBoxLayout, QWidget

from studio.ui.icons import icon

RUNNING = 0  # the key of the running job's row (waiting jobs use their queue id, from 1)


class QueuePanel(QWidget):
    cancel_requested = Signal(int)  # RUNNING or a waiting job's id
    move_requested = Signal(int, int)  # waiting job's id, -1 (sooner) or +1 (later)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuePanel")
        self.list = QListWidget()
        self.list.setObjectName("queueList")
        self.list.setToolTip("Jobs: the running one first, then those waiting. Esc cancels the running one.")
        self.list.setFixedHeight(76)
        self.list.currentRowChanged.connect(lambda _row: self._sync_buttons())
        self.cancel_button = self._button("cancel", "Cancel the selected job", self._cancel)
        self.up_button = self._button("chevron-up", "Run the selected job sooner", lambda: self._move(-1))
        self.down_button = self._button("chevron-down", "Run the selected job later", lambda: self._move(1))
        buttons = QVBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        for button in (self.cancel_button, self.up_button, self.down_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        self.show_jobs(None, [])

    def _button(self, name: str, tip: str, slot: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def show_jobs(self, running: str | None, waiting: list[tuple[int, str]]) -> None:
        """`running`: the running job's line (None when idle); `waiting`: (id, line) in run order."""
        selected = self.selected_key()
        self.list.clear()
        if running is not None:
            self._add(RUNNING, running)
        for key, text in waiting:
            self._add(key, text)
        self.setVisible(self.list.count() > 0)
        keys = [self._key(self.list.item(i)) for i in range(self.list.count())]
        if selected in keys:
            self.list.setCurrentRow(keys.index(selected))
        self._sync_buttons()

    def lines(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def select(self, key: int) -> None:
        for i in range(self.list.count()):
            if self._key(self.list.item(i)) == key:
                self.list.setCurrentRow(i)

    def selected_key(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else self._key(item)

    def _add(self, key: int, text: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, key)
        self.list.addItem(item)

    @staticmethod
    def _key(item: QListWidgetItem) -> int:
        return int(item.data(Qt.ItemDataRole.UserRole))

    def _sync_buttons(self) -> None:
        key = self.selected_key()
        row = self.list.currentRow()
        first_waiting = 1 if self.list.count() and self._key(self.list.item(0)) == RUNNING else 0
        self.cancel_button.setEnabled(key is not None)
        self.up_button.setEnabled(key not in (None, RUNNING) and row > first_waiting)
        self.down_button.setEnabled(key not in (None, RUNNING) and row < self.list.count() - 1)

    def _cancel(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.cancel_requested.emit(key)

    def _move(self, delta: int) -> None:
        key = self.selected_key()
        if key not in (None, RUNNING):
            self.move_requested.emit(key, delta)
