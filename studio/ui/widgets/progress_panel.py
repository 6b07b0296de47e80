"""Progress row under the preview: step i of n, elapsed, ETA; Cancel; x0 / x_t preview toggle."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from studio.core.request import PreviewKind
from studio.ui.icons import icon


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def progress_text(step: int, total: int, elapsed: float) -> str:
    text = f"Step {step} of {total} · {format_seconds(elapsed)}"
    if 0 < step < total:
        eta = elapsed / step * (total - step)
        text += f" · ETA {format_seconds(eta)}"
    return text


class ProgressPanel(QWidget):
    cancel_requested = Signal()
    preview_kind_selected = Signal(object)  # PreviewKind

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setObjectName("jobProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(8)
        self.label = QLabel("Ready")
        self.label.setObjectName("progressLabel")
        self.label.setMinimumWidth(220)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop the running generation (Esc)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.x0_button = self._toggle("x0", "Preview the predicted final image (clearer early on)")
        self.xt_button = self._toggle("x_t", "Preview the noisy latent as it is being denoised")
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.x0_button)
        group.addButton(self.xt_button)
        self.x0_button.setChecked(True)
        self.x0_button.toggled.connect(self._x0_toggled)
        self.xt_button.toggled.connect(self._xt_toggled)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(QLabel("Preview"))
        layout.addWidget(self.x0_button)
        layout.addWidget(self.xt_button)
        layout.addSpacing(12)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.cancel_button)

    def _x0_toggled(self, on: bool) -> None:
        if on:
            self.preview_kind_selected.emit(PreviewKind.X0)

    def _xt_toggled(self, on: bool) -> None:
        if on:
            self.preview_kind_selected.emit(PreviewKind.LATENT)

    def _toggle(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setObjectName("segmentButton")
        return button

    def set_preview_kind(self, kind: PreviewKind) -> None:
        button = self.xt_button if kind is PreviewKind.LATENT else self.x0_button
        button.blockSignals(True)
        button.setChecked(True)
        button.blockSignals(False)
        other = self.x0_button if button is self.xt_button else self.xt_button
        other.blockSignals(True)
        other.setChecked(False)
        other.blockSignals(False)

    def set_previews_enabled(self, enabled: bool) -> None:
        self.x0_button.setEnabled(enabled)
        self.xt_button.setEnabled(enabled)

    def job_started(self, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(0)
        self.label.setText(f"Step 0 of {total}")
        self.cancel_button.setEnabled(True)

    def job_waiting(self, text: str) -> None:
        self.bar.setRange(0, 0)  # busy indicator
        self.label.setText(text)
        self.cancel_button.setEnabled(True)

    def job_step(self, step: int, total: int, elapsed: float) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(step)
        self.label.setText(progress_text(step, total, elapsed))

    def job_ended(self, text: str) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if text.startswith("Done") else 0)
        self.label.setText(text)
        self.cancel_button.setEnabled(False)
