"""Side panels of the canvas: inpaint mask options, outpaint amounts, candidate review."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.infill import DEFAULT_INFILL, INFILL_METHODS
from studio.core.request import InpaintArea, MaskedContent, MaskOptions, OutpaintOptions
from studio.core.seams import SeamReport

SIDES = ("left", "top", "right", "bottom")
INFILL_LABELS = {
    "telea": "Telea (colours flow in)",
    "ns": "Navier-Stokes (edges continue)",
    "stretch": "Edge stretch",
    "flat": "Flat mean colour",
}


def infill_combo(tip: str) -> QComboBox:
    """A choice of core.infill's methods (how an area is pre-filled from its surroundings)."""
    combo = QComboBox()
    for method in INFILL_METHODS:
        combo.addItem(INFILL_LABELS.get(method, method), method)
    combo.setCurrentIndex(combo.findData(DEFAULT_INFILL))
    combo.setToolTip(tip)
    return combo


def _spin(low: int, high: int, value: int, step: int = 1, suffix: str = " px") -> QSpinBox:
    s = QSpinBox()
    s.setRange(low, high)
    s.setSingleStep(step)
    s.setValue(value)
    s.setSuffix(suffix)
    return s


class InpaintPanel(QGroupBox):
    """Mask options for inpainting (grow/feather also apply to outpaint compositing)."""

    changed = Signal()
    generate = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Inpaint", parent)
        d = MaskOptions()
        self.area = QComboBox()  # generating into the selection is the default way to work
        self.area.addItem("Selection, at model size", InpaintArea.ONLY_MASKED)
        self.area.addItem("Whole image", InpaintArea.WHOLE_IMAGE)
        self.area.setToolTip(
            "Selection: the painted area's box (plus padding) is generated at the model's native size "
            "and pasted back: best on large images. Whole image: the whole canvas is regenerated."
        )
        self.padding = _spin(0, 1024, d.padding)
        self.fill = QComboBox()
        for label, value in (
            ("Original", MaskedContent.ORIGINAL),
            ("Blur", MaskedContent.BLUR),
            ("Noise", MaskedContent.NOISE),
            ("Infill from surroundings", MaskedContent.INFILL),
        ):
            self.fill.addItem(label, value)
        self.infill = infill_combo("How the masked area is filled before generating (Infill content)")
        self.grow = _spin(-256, 256, d.grow)
        self.feather = _spin(0, 256, d.feather)
        self.button = QPushButton("Inpaint")
        self.button.setToolTip("Regenerate the painted area (Ctrl+Enter)")
        form = QFormLayout(self)
        form.addRow("Generate", self.area)
        form.addRow("Padding", self.padding)
        form.addRow("Masked content", self.fill)
        form.addRow("Infill", self.infill)
        form.addRow("Grow / shrink", self.grow)
        form.addRow("Feather", self.feather)
        form.addRow(self.button)
        for w in (self.padding, self.grow, self.feather):
            w.valueChanged.connect(self.changed)
        self.area.currentIndexChanged.connect(self._area_changed)
        self.fill.currentIndexChanged.connect(self._fill_changed)
        self.infill.currentIndexChanged.connect(self.changed)
        self.button.clicked.connect(self.generate)
        self._area_changed()
        self._fill_changed()

    def _area_changed(self) -> None:
        self.padding.setEnabled(InpaintArea(self.area.currentData()) is InpaintArea.ONLY_MASKED)
        self.changed.emit()

    def _fill_changed(self) -> None:
        self.infill.setEnabled(MaskedContent(self.fill.currentData()) is MaskedContent.INFILL)
        self.changed.emit()

    def options(self) -> MaskOptions:
        return MaskOptions(
            grow=self.grow.value(),
            feather=self.feather.value(),
            area=InpaintArea(self.area.currentData()),
            padding=self.padding.value(),
            fill=MaskedContent(self.fill.currentData()),
            infill=str(self.infill.currentData()),
        )

    def set_options(self, o: MaskOptions) -> None:
        self.grow.setValue(o.grow)
        self.feather.setValue(o.feather)
        self.padding.setValue(o.padding)
        self.area.setCurrentIndex(self.area.findData(o.area))
        self.fill.setCurrentIndex(self.fill.findData(o.fill))
        self.infill.setCurrentIndex(max(0, self.infill.findData(o.infill)))


class OutpaintPanel(QGroupBox):
    amounts_changed = Signal(int, int, int, int)
    generate = Signal()
    extend_only = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Outpaint", parent)
        self.spins = {side: _spin(0, 2048, 0, 8) for side in SIDES}
        for spin in self.spins.values():
            spin.setMaximumWidth(90)
        self.overlap = _spin(0, 256, OutpaintOptions().overlap)
        self.infill = infill_combo("How the new area is filled from the picture's edge before generating")
        grid = QGridLayout()
        grid.addWidget(QLabel("Top"), 0, 1)
        grid.addWidget(self.spins["top"], 1, 1)
        grid.addWidget(QLabel("Left"), 2, 0)
        grid.addWidget(self.spins["left"], 3, 0)
        grid.addWidget(QLabel("Right"), 2, 2)
        grid.addWidget(self.spins["right"], 3, 2)
        grid.addWidget(QLabel("Bottom"), 4, 1)
        grid.addWidget(self.spins["bottom"], 5, 1)
        quick = QHBoxLayout()
        for amount in (64, 128, 256):
            b = QPushButton(f"+{amount}")
            b.setToolTip(f"Extend every side by {amount} px")
            b.clicked.connect(lambda _=False, a=amount: self.set_amounts(a, a, a, a, emit=True))
            quick.addWidget(b)
        reset = QPushButton("Reset")
        reset.clicked.connect(lambda: self.set_amounts(0, 0, 0, 0, emit=True))
        quick.addWidget(reset)
        form = QFormLayout()
        form.addRow("Overlap", self.overlap)
        form.addRow("Fill new area", self.infill)
        self.button = QPushButton("Outpaint")
        self.button.setToolTip(
            "Extend the canvas and generate the new area from scratch (strength 1) with the Generation "
            "panel's prompt (drag the frame with F)"
        )
        box = QVBoxLayout(self)
        box.addLayout(grid)
        box.addLayout(quick)
        box.addLayout(form)
        self.extend_button = QPushButton("Extend canvas only")
        self.extend_button.setToolTip("Add white margins of these sizes without generating")
        box.addWidget(self.button)
        box.addWidget(self.extend_button)
        self.extend_button.clicked.connect(self.extend_only)
        for s in self.spins.values():
            s.valueChanged.connect(self._emit)
        self.button.clicked.connect(self.generate)

    def _emit(self) -> None:
        self.amounts_changed.emit(*self.amounts())

    def amounts(self) -> tuple[int, int, int, int]:
        return tuple(self.spins[s].value() for s in SIDES)  # type: ignore[return-value]

    def set_amounts(self, left: int, top: int, right: int, bottom: int, *, emit: bool = False) -> None:
        for side, value in zip(SIDES, (left, top, right, bottom), strict=True):
            spin = self.spins[side]
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        if emit:
            self._emit()

    def infill_method(self) -> str:
        return str(self.infill.currentData())

    def options(self) -> OutpaintOptions:
        left, top, right, bottom = self.amounts()
        return OutpaintOptions(left=left, top=top, right=right, bottom=bottom, overlap=self.overlap.value())


class CandidateBar(QWidget):
    """Shown while results wait for a decision: flip through, accept one, or discard all."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prev = QPushButton("◀")
        self.prev.setToolTip("Previous result (Left arrow)")
        self.label = QLabel()
        self.next = QPushButton("▶")
        self.next.setToolTip("Next result (Right arrow)")
        self.accept = QPushButton("Accept")
        self.accept.setToolTip("Put this result into the image (Enter); undo with Ctrl+Z")
        self.compare = QPushButton("Compare")
        self.compare.setToolTip("Hold to see the original (or hold C)")
        self.discard = QPushButton("Discard")
        self.discard.setToolTip("Throw away all results (Esc)")
        self.seam = QLabel()
        self.seam.setObjectName("seamReport")
        self.fix_seam = QPushButton("Fix seam")
        self.fix_seam.setCheckable(True)
        self.fix_seam.setToolTip(
            "Colour-match the generated area to the picture along the join (click again to take it back)"
        )
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.prev, self.label, self.next):
            row.addWidget(w)
        row.addWidget(self.seam)
        row.addWidget(self.fix_seam)
        row.addStretch(1)
        row.addWidget(self.compare)
        row.addWidget(self.accept)
        row.addWidget(self.discard)
        self.set_state(0, 0)

    def set_state(self, index: int, count: int) -> None:
        self.setVisible(count > 0)
        self.label.setText(f"Result {index + 1} of {count}" if count else "")
        self.prev.setEnabled(count > 1)
        self.next.setEnabled(count > 1)

    def set_seam(self, report: SeamReport | None, fixed: bool, measuring: bool) -> None:
        """The seam measure of the result on show; the fix is offered when the seam is visible."""
        if measuring:
            self.seam.setText("seam: measuring…")
        else:
            self.seam.setText(report.summary() if report is not None else "")
        flagged = report is not None and report.flagged
        self.seam.setStyleSheet("color: #e0563b;" if flagged else "")
        self.fix_seam.setVisible(flagged or fixed)
        self.fix_seam.setChecked(fixed)
        self.fix_seam.setText("Seam fixed ✓" if fixed else "Fix seam")
