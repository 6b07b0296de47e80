"""The queue list under the preview: the running jobs (several when ComfyUI servers run them side by
side) and the waiting ones (prompt excerpt, status), with cancel and move up/down for the selected
one."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QListWidgetItem, QToolButton, QVBoxLayout, QWidget

from studio.ui.icons import icon

RUNNING = 0  # "the running job the progress panel shows" (waiting jobs use their queue id, from 1)


def running_key(job_id: int) -> int:
    """The key of a running job's row: its engine id, negated (never a waiting job's queue id)."""
    return -abs(job_id)


def is_running(key: int | None) -> bool:
    return key is not None and key <= RUNNING


class QueuePanel(QWidget):
    cancel_requested = Signal(int)  # a running job's key (`running_key`, or RUNNING) or a waiting job's id
    move_requested = Signal(int, int)  # waiting job's id, -1 (sooner) or +1 (later)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuePanel")
        self.list = QListWidget()
        self.list.setObjectName("queueList")
        self.list.setToolTip(
            "Jobs: those running first, then those waiting. Esc cancels the one being previewed."
        )
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
        self.show_jobs([], [])

    def _button(self, name: str, tip: str, slot: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    def show_jobs(self, running: list[tuple[int, str]], waiting: list[tuple[int, str]]) -> None:
        """`running`: (`running_key`, line) per running job; `waiting`: (id, line) in run order."""
        selected = self.selected_key()
        self.list.clear()
        for key, text in [*running, *waiting]:
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
        keys = [self._key(self.list.item(i)) for i in range(self.list.count())]
        first_waiting = sum(1 for k in keys if is_running(k))
        waiting = key is not None and not is_running(key)
        self.cancel_button.setEnabled(key is not None)
        self.up_button.setEnabled(waiting and row > first_waiting)
        self.down_button.setEnabled(waiting and row < self.list.count() - 1)

    def _cancel(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.cancel_requested.emit(key)

    def _move(self, delta: int) -> None:
        key = self.selected_key()
        if key is not None and not is_running(key):
            self.move_requested.emit(key, delta)
