"""An in-window banner for errors (and, in calmer colours, warnings): the message, a "Details"
expander, an optional action button ("Run without x.safetensors"), and a close button."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.icons import icon


class ErrorBanner(QFrame):
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.severity = "error"  # "error" | "warning": the QSS property `severity` styles it
        self.icon = QLabel()
        self.icon.setPixmap(icon("warning").pixmap(20, 20))
        self.message = QLabel()
        self.message.setObjectName("bannerMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolTip("Show the technical details (for bug reports)")
        self.details_button.toggled.connect(self._toggle_details)
        self.action_button = QPushButton()
        self.action_button.setVisible(False)
        self.action_button.clicked.connect(self._run_action)
        self._action: Callable[[], object] | None = None
        self.close_button = QToolButton()
        self.close_button.setIcon(icon("close"))
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.details.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.message, 1)
        top.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.setVisible(False)

    def show_error(self, message: str, detail: str = "") -> None:
        self._set_severity("error")
        self._show(message, detail)

    def show_warning(self, message: str, detail: str = "") -> None:
        """Something the artist should know that did not stop anything (shown without alarm)."""
        self._set_severity("warning")
        self._show(message, detail)

    def offer(self, text: str, action: Callable[[], object]) -> None:
        """A button on the shown message that runs `action` once and dismisses the banner."""
        self._action = action
        self.action_button.setText(text)
        self.action_button.setVisible(True)

    def _run_action(self) -> None:
        action = self._action
        self.dismiss()
        if action is not None:
            action()

    def _set_severity(self, severity: str) -> None:
        self.severity = severity
        self.setProperty("severity", severity)
        for widget in (self, self.message):  # the message's colour depends on the frame's property
            widget.style().unpolish(widget)
            widget.style().polish(widget)

    def _show(self, message: str, detail: str) -> None:
        self._action = None  # an offer belongs to the message it came with
        self.action_button.setVisible(False)
        self.message.setText(message)
        self.details.setPlainText(detail)
        self.details_button.setVisible(bool(detail))
        self.details_button.setChecked(False)
        self.setVisible(True)

    def dismiss(self) -> None:
        self.setVisible(False)
        self.closed.emit()

    def _toggle_details(self, on: bool) -> None:
        self.details.setVisible(on)
        self.details_button.setText("Hide details" if on else "Details")
