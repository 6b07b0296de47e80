"""Small input widgets: prompt edit (Ctrl+Enter generates), slider+spin pair, multiple-of-8 spin box."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QPlainTextEdit, QSlider, QSpinBox, QWidget

from studio.core.request import round_to_multiple_of_8


class KeyHook(Protocol):
    """Something that sees a prompt box's keys first (the completer): `takes_key` True = not typed."""

    def takes_key(self, event: QKeyEvent) -> bool: ...
    def popup_visible(self) -> bool: ...
    def after_key(self, event: QKeyEvent) -> None: ...


class PromptEdit(QPlainTextEdit):
    """Multi-line prompt; Ctrl+Enter (or Ctrl+Return) emits `submitted` instead of a new line."""

    submitted = Signal()
    text_edited = Signal(str)

    def __init__(self, placeholder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.textChanged.connect(lambda: self.text_edited.emit(self.toPlainText()))
        self.key_hook: KeyHook | None = None

    def event(self, event: QEvent) -> bool:
        """While the completion list is open, Escape closes it rather than triggering a window
        shortcut (the canvas's "cancel the job")."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Escape
            and self.key_hook is not None
            and self.key_hook.popup_visible()
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt name)
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submitted.emit()
            return
        if self.key_hook is not None and self.key_hook.takes_key(event):
            return
        super().keyPressEvent(event)
        if self.key_hook is not None:
            self.key_hook.after_key(event)

    def set_text_quietly(self, text: str) -> None:
        if text == self.toPlainText():
            return
        self.blockSignals(True)
        self.setPlainText(text)
        self.blockSignals(False)


class SliderSpin(QWidget):
    """A float value edited with a slider and a spin box kept in step."""

    value_changed = Signal(float)

    def __init__(self, low: float, high: float, step: float, decimals: int, tip: str) -> None:
        super().__init__()
        self._scale = 10**decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(low * self._scale), int(high * self._scale))
        self.slider.setSingleStep(int(step * self._scale))
        self.slider.setPageStep(int(step * self._scale * 4))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(low, high)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(step)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(72)
        for w in (self, self.slider, self.spin):
            w.setToolTip(tip)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(lambda v: self._edited(v / self._scale))
        self.spin.valueChanged.connect(self._edited)

    def _edited(self, value: float) -> None:
        self.set_value_quietly(value)
        self.value_changed.emit(float(value))

    def value(self) -> float:
        return self.spin.value()

    def set_value_quietly(self, value: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(value)
        self.slider.setValue(int(round(value * self._scale)))
        for w in (self.slider, self.spin):
            w.blockSignals(False)


class Multiple8SpinBox(QSpinBox):
    """Pixel size: steps by 8 and snaps typed values to the nearest multiple of 8."""

    def __init__(self, low: int, high: int, tip: str) -> None:
        super().__init__()
        self.setRange(low, high)
        self.setSingleStep(8)
        self.setSuffix(" px")
        self.setKeyboardTracking(False)
        self.setToolTip(tip)
        self.setAccelerated(True)
        self.editingFinished.connect(self._snap)

    def _snap(self) -> None:
        snapped = min(max(round_to_multiple_of_8(self.value()), self.minimum()), self.maximum())
        if snapped != self.value():
            self.setValue(snapped)

    def valueFromText(self, text: str) -> int:  # noqa: N802 (Qt name)
        value = super().valueFromText(text)
        return min(max(round_to_multiple_of_8(value), self.minimum()), self.maximum())


def set_quietly(widget: QWidget, setter: str, value: object) -> None:
    """Call `widget.<setter>(value)` with the widget's signals blocked (view-model -> widget sync)."""
    widget.blockSignals(True)
    try:
        getattr(widget, setter)(value)
    finally:
        widget.blockSignals(False)
