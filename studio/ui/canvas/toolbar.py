"""Actions and the tool bar of the canvas workspace (shortcuts are scoped to the workspace)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QLabel,
    QMenu,
    QSlider,
    QSpinBox,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.canvas.tools import MAX_SIZE, MIN_SIZE, STROKE_TOOLS, Tool

if TYPE_CHECKING:
    from studio.core.document import Document
    from studio.ui.canvas.view import CanvasView

TOOL_LABELS = (
    (Tool.BRUSH, "Brush", "B"),
    (Tool.ERASER, "Eraser", "E"),
    (Tool.RECT, "Rectangle", "R"),
    (Tool.LASSO, "Lasso", "L"),
    (Tool.FRAME, "Canvas frame", "F"),
    (Tool.PAINT, "Colour brush", "P"),
    (Tool.PICKER, "Eyedropper", "I"),
)

VIEW_KEYS: tuple[tuple[str, str], ...] = (
    ("[ / ]", "Smaller / larger brush"),
    ("Space + drag, middle drag", "Pan the canvas"),
    ("Mouse wheel", "Zoom at the pointer"),
    ("Alt + drag", "Erase with a painting tool (paint with the eraser)"),
    ("Hold C", "Compare: show the original instead of the result"),
)


class CandidateCommands(Protocol):
    """What the actions use of the generation controller: the pending results."""

    @property
    def has_candidates(self) -> bool: ...
    @property
    def busy(self) -> bool: ...
    def cancel(self) -> None: ...
    def show(self, step: int) -> None: ...
    def discard(self) -> None: ...


class CanvasCommands(Protocol):
    """What the actions and the tool bar trigger and read: the workspace (which imports this module)."""

    @property
    def doc(self) -> Document: ...
    @property
    def view(self) -> CanvasView: ...
    @property
    def generation(self) -> CandidateCommands: ...
    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def open_file(self) -> bool: ...
    def new_canvas(self) -> bool: ...
    def paste(self) -> bool: ...
    def save_image(self, *, ask: bool = False) -> bool: ...
    def export_image(self) -> bool: ...
    def copy_image(self) -> None: ...
    def save_mask(self) -> bool: ...
    def load_mask(self) -> bool: ...
    def inpaint(self) -> object: ...  # the job started, if any (unused here)
    def outpaint(self) -> object: ...
    def accept_candidate(self) -> bool: ...
    def set_effective_preview(self, on: bool) -> None: ...


class CanvasActions:
    """Every action of the canvas, created once and added to ``widget`` (for its shortcuts).

    ``widget`` owns the actions; ``ws`` is what they act on. Both are the workspace.
    """

    def __init__(self, widget: QWidget, ws: CanvasCommands) -> None:
        self.widget = widget
        self.ws = ws
        self.all: dict[str, QAction] = {}
        self.labels: dict[str, str] = {}  # each action's text as listed in the shortcuts dialog
        add = self._add
        add("undo", "Undo", ws.undo, (QKeySequence.StandardKey.Undo,))
        add("redo", "Redo", ws.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))
        add("fit", "Fit", ws.view.fit, ("Ctrl+0",))
        add("actual", "100%", ws.view.actual_size, ("Ctrl+1",))
        add("invert", "Invert mask", lambda: ws.doc.invert_mask(), ("Ctrl+I",))
        add("clear", "Clear mask", lambda: ws.doc.clear_mask(), ("Ctrl+Shift+A",))
        add("fill", "Fill mask", lambda: ws.doc.fill_mask(), ())
        add("open", "Open image…", lambda: ws.open_file(), (QKeySequence.StandardKey.Open,))
        add("new", "New canvas…", lambda: ws.new_canvas(), (QKeySequence.StandardKey.New,))
        add("paste", "Paste as layer", ws.paste, (QKeySequence.StandardKey.Paste,))
        add("save", "Save", lambda: ws.save_image(), (QKeySequence.StandardKey.Save,))
        add("save_as", "Save as…", lambda: ws.save_image(ask=True), ("Ctrl+Shift+S",))
        add("export", "Export flattened image…", lambda: ws.export_image(), ("Ctrl+Shift+E",))
        add("copy", "Copy image", ws.copy_image, (QKeySequence.StandardKey.Copy,))
        add("save_mask", "Save mask…", lambda: ws.save_mask(), ())
        add("load_mask", "Load mask…", lambda: ws.load_mask(), ())
        add("inpaint", "Inpaint", ws.inpaint, ("Ctrl+Return",))
        add("outpaint", "Outpaint", ws.outpaint, ())
        add("cancel_job", "Cancel the running generation", ws.generation.cancel, ("Escape",))
        add("prev", "Previous result", lambda: ws.generation.show(-1), ("Left",))
        add("next", "Next result", lambda: ws.generation.show(1), ("Right",))
        add("accept", "Accept result", ws.accept_candidate, ("Return", "Enter"))
        add("discard", "Discard results", ws.generation.discard, ("Escape",))
        self.mask_visible = add("mask_visible", "Show mask", ws.view.set_mask_visible, ("M",), checkable=True)
        self.mask_visible.setChecked(True)
        self.effective = add(
            "effective", "Preview effective mask", ws.set_effective_preview, (), checkable=True
        )
        self.tools = QActionGroup(widget)
        for tool, label, key in TOOL_LABELS:
            a = add(f"tool_{tool.value}", f"{label} ({key})", lambda t=tool: ws.view.set_tool(t), ())
            a.setCheckable(True)  # triggered (a click), not toggled: unchecking must not pick a tool
            a.setChecked(tool is Tool.BRUSH)
            self.tools.addAction(a)
        ws.view.tool_changed.connect(lambda name: self.all[f"tool_{name}"].setChecked(True))
        self.set_candidates(False)
        self.set_busy(False)

    def _add(self, name: str, text: str, slot: Callable, keys: tuple, *, checkable: bool = False) -> QAction:
        a = QAction(text, self.widget)
        a.setShortcuts([QKeySequence(k) for k in keys])
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        a.setCheckable(checkable)
        if checkable:
            a.toggled.connect(slot)
        else:
            a.triggered.connect(lambda _=False: slot())
        self.widget.addAction(a)
        self.all[name] = a
        self.labels[name] = text.split(" (")[0]
        return a

    def for_key(self, event: QKeyEvent) -> QAction | None:
        """The enabled action whose shortcut is this key press (to win over window-wide shortcuts)."""
        seq = QKeySequence(event.keyCombination())
        for action in self.all.values():
            if action.isEnabled() and any(
                seq.matches(k) == QKeySequence.SequenceMatch.ExactMatch for k in action.shortcuts()
            ):
                return action
        return None

    def __getitem__(self, name: str) -> QAction:
        return self.all[name]

    def set_busy(self, busy: bool) -> None:
        """Esc cancels the running job while there is one (and discards results otherwise)."""
        self.all["cancel_job"].setEnabled(busy)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, action) for the shortcuts dialog: every action with keys, then the view's own keys."""
        rows = [
            (
                ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()),
                self.labels[n],
            )
            for n, a in self.all.items()
            if a.shortcuts()
        ]
        rows += [(key, f"{label} tool") for _tool, label, key in TOOL_LABELS]
        return rows + list(VIEW_KEYS)

    def set_candidates(self, pending: bool) -> None:
        for name in ("prev", "next", "accept", "discard"):
            self.all[name].setEnabled(pending)
        self.refresh_undo()

    def refresh_undo(self) -> None:
        stack, deciding = self.ws.doc.undo_stack, self.ws.generation.has_candidates
        self.all["undo"].setEnabled(stack.can_undo() and not deciding)
        self.all["redo"].setEnabled(stack.can_redo() and not deciding)
        self.all["undo"].setText(f"Undo {stack.undo_label()}".strip())
        self.all["redo"].setText(f"Redo {stack.redo_label()}".strip())


def tool_indicator(tool: str, size: int) -> str:
    """The active-tool line: the tool's name and key, with the size for the brush tools."""
    label, key = next(((lb, k) for t, lb, k in TOOL_LABELS if t.value == tool), (tool.title(), ""))
    text = f"{label} ({key})" if key else label
    return f"{text} · {size} px" if tool in {t.value for t in STROKE_TOOLS} else text


def build_toolbar(ws: CanvasCommands, actions: CanvasActions) -> QWidget:
    """Three rows, none clipped in a 1400 px window: file and tools; brush settings; then mask
    operations, undo and zoom."""
    top, brush, bottom = QToolBar("Canvas tools"), QToolBar("Canvas brush"), QToolBar("Canvas mask")
    file_button = QToolButton()
    file_button.setText("File")
    file_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(file_button)
    for name in ("new", "open", "paste", "copy", "save", "save_as", "export", "save_mask", "load_mask"):
        menu.addAction(actions[name])
    file_button.setMenu(menu)
    top.addWidget(file_button)
    top.addSeparator()
    for a in actions.tools.actions():
        top.addAction(a)
    brush.addWidget(QLabel(" Brush size "))
    brush.addWidget(_size_spin(ws))
    brush.addWidget(QLabel(" Hardness "))
    brush.addWidget(_hardness_slider(ws))
    pressure = QCheckBox("Pressure")
    pressure.setToolTip("Tablet pen pressure scales the brush size")
    pressure.setChecked(ws.view.tools.settings.pressure_size)
    pressure.toggled.connect(lambda on: setattr(ws.view.tools.settings, "pressure_size", on))
    brush.addWidget(pressure)
    for name in ("mask_visible", "effective", "invert", "clear", "fill"):
        bottom.addAction(actions[name])
    bottom.addSeparator()
    for name in ("undo", "redo"):
        bottom.addAction(actions[name])
    bottom.addSeparator()
    for name in ("fit", "actual"):
        bottom.addAction(actions[name])
    box = QWidget()
    rows = QVBoxLayout(box)
    rows.setContentsMargins(0, 0, 0, 0)
    rows.setSpacing(0)
    for row in (top, brush, bottom):
        rows.addWidget(row)
    return box


def _size_spin(ws: CanvasCommands) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(MIN_SIZE, MAX_SIZE)
    spin.setSuffix(" px")
    spin.setToolTip("Brush size ([ and ])")
    spin.setValue(ws.view.tools.settings.size)
    spin.valueChanged.connect(ws.view.set_brush_size)
    ws.view.brush_size_changed.connect(lambda v: _set_quiet(spin, v))
    return spin


def _hardness_slider(ws: CanvasCommands) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, 100)
    slider.setFixedWidth(90)
    slider.setValue(int(ws.view.tools.settings.hardness * 100))
    slider.valueChanged.connect(lambda v: setattr(ws.view.tools.settings, "hardness", v / 100.0))
    return slider


def _set_quiet(spin: QSpinBox, value: int) -> None:
    spin.blockSignals(True)
    spin.setValue(value)
    spin.blockSignals(False)
