"""One control unit in the Controls panel: on/off, model, image source, region (IP-Adapter: where its
reference acts), preprocessor (canny thresholds only for canny), weight, start and end, control mode (ControlNet only) and a thumbnail of the map its
model will see. `unit()` is what it shows (without an image); `set_unit` shows a unit."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.control import MAX_CONTROL_WEIGHT, PREPROCESSORS, ControlKind, ControlMode, ControlUnit
from studio.core.user_files import guess_control_kind
from studio.ui.icons import icon
from studio.ui.images import pil_to_qimage
from studio.ui.widgets.control_sources import (
    FLATTENED,
    CanvasImages,
    preview_map,
    source_image,
    source_label,
)
from studio.ui.widgets.inputs import set_quietly

log = logging.getLogger(__name__)

THUMB = 72
MIN_COMBO_CHARS = 10
BROWSE_FILE, BROWSE_FOLDER = "\0browse-file", "\0browse-folder"
PREPROCESSOR_LABELS = {
    "none": "None: the image is the map",
    "canny": "Canny edges",
    "softedge": "Soft edges",
    "lineart": "Line art",
    "invert": "Invert (dark lines on white)",
    "scribble": "Scribble (strokes)",
    "tile": "Tile (blurred copy)",
    "inpaint": "Inpaint (for an inpaint ControlNet)",
    "depth": "Depth map (yours, as it is)",
    "normal": "Normal map (yours, as it is)",
    "pose": "Pose skeleton (yours, as it is)",
}
MODE_LABELS = {
    ControlMode.BALANCED: "Balanced",
    ControlMode.PROMPT: "My prompt is more important",
    ControlMode.CONTROL: "The control is more important",
}
BROUGHT_HINT = "Depth, normal and pose maps: bring your own map as the image, with preprocessor None."
MODEL_FILTER = "Control models (*.safetensors *.bin);;All files (*)"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"

AskFile = Callable[[str, str], "str | None"]  # (title, filter) -> path or None
AskFolder = Callable[[str], "str | None"]


class ControlUnitEditor(QFrame):
    changed = Signal()  # a value the artist edited
    remove_requested = Signal()

    def __init__(self, unit: ControlUnit, ask_file: AskFile, ask_folder: AskFolder) -> None:
        super().__init__()
        self.setObjectName("controlUnit")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.kind = unit.kind
        self._ask_file, self._ask_folder = ask_file, ask_folder
        self._found: list[Path] = []
        self._canvas: CanvasImages | None = None
        self._file_cache: tuple[tuple[str, int], Image.Image] | None = None
        self._build()
        self.set_unit(unit)
        self._connect()

    # construction ---------------------------------------------------------------------------------
    def _build(self) -> None:
        self.enabled = QCheckBox(self.kind.label)
        self.enabled.setChecked(True)
        self.enabled.setToolTip("Use this control in the next jobs (off: kept here, not used)")
        self.remove = QToolButton()
        self.remove.setIcon(icon("close"))
        self.remove.setToolTip("Remove this control")
        self.model = QComboBox()
        self.model.setToolTip("The model file or folder (found in the control model folders, Settings)")
        self.source = QComboBox()
        self.source.setToolTip(
            "The control image: a picture file, or on the canvas one of its layers (a hidden layer works "
            "too: hide your scribble so it is not painted into the picture) or the whole canvas"
        )
        self.region = QComboBox()
        self.region.setToolTip(
            "Where the reference acts (regional image prompt): everywhere, where a layer is painted "
            "(its opaque pixels), or the white of a mask image"
        )
        self.preprocessor = QComboBox()
        for name in PREPROCESSORS:
            self.preprocessor.addItem(PREPROCESSOR_LABELS[name], name)
        self.preprocessor.setToolTip("How the image becomes the map the model follows")
        self.hint = QLabel(BROUGHT_HINT)
        self.hint.setWordWrap(True)
        self.hint.setObjectName("dimLabel")
        self.low, self.high = _spin(0, 255, "Canny low threshold"), _spin(0, 255, "Canny high threshold")
        self.thresholds = QWidget()
        row = QHBoxLayout(self.thresholds)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.low)
        row.addWidget(self.high)
        self.weight = _double(0.0, MAX_CONTROL_WEIGHT, 0.05, "How strongly the control applies (0 = off)")
        self.start = _spin(0, 100, "The first step the control acts on, as % of the steps")
        self.end = _spin(0, 100, "The last step the control acts on, as % of the steps")
        for spin in (self.start, self.end):
            spin.setSuffix(" % of steps")
        self.mode = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode.addItem(label, mode)
        self.mode.setToolTip(
            "Balanced, or favour the prompt (weaker fine detail) or the control (guess mode)"
        )
        self.thumbnail = QLabel()
        self.thumbnail.setFixedSize(THUMB, THUMB)
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setObjectName("controlThumbnail")
        self._layout()

    def _layout(self) -> None:
        for combo in (self.model, self.source, self.region, self.preprocessor, self.mode):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(MIN_COMBO_CHARS)  # long file names never widen the column
        head = QHBoxLayout()
        head.addWidget(self.enabled, 1, Qt.AlignmentFlag.AlignTop)
        head.addWidget(self.thumbnail)
        head.addWidget(self.remove, 0, Qt.AlignmentFlag.AlignTop)
        self.form = QFormLayout()
        self.form.addRow("Model", self.model)
        self.form.addRow("Image", self.source)
        self.form.addRow("Region", self.region)
        self.form.addRow("Preprocess", self.preprocessor)
        self.form.addRow("", self.hint)
        self.form.addRow("Thresholds", self.thresholds)
        self.form.addRow("Weight", self.weight)
        self.form.addRow("Start", self.start)
        self.form.addRow("End", self.end)
        self.form.addRow("Mode", self.mode)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 4, 6, 6)
        box.addLayout(head)
        box.addLayout(self.form)

    def _connect(self) -> None:
        self.enabled.toggled.connect(lambda _on: self._edited())
        self.remove.clicked.connect(self.remove_requested)
        self.model.activated.connect(self._model_activated)
        self.source.activated.connect(self._source_activated)
        self.region.activated.connect(self._region_activated)
        self.preprocessor.currentIndexChanged.connect(lambda _i: self._edited())
        for spin in (self.low, self.high, self.start, self.end):
            spin.valueChanged.connect(lambda _v: self._edited())
        self.weight.valueChanged.connect(lambda _v: self._edited())
        self.mode.currentIndexChanged.connect(lambda _i: self._edited())

    # values ---------------------------------------------------------------------------------------
    @property
    def is_enabled(self) -> bool:
        return self.enabled.isChecked()

    def unit(self) -> ControlUnit:
        """The unit as shown (no image: `image_name` names its source)."""
        return ControlUnit(
            kind=self.kind,
            model=str(self.model.currentData() or ""),
            image_name=str(self.source.currentData() or ""),
            mask_name=str(self.region.currentData() or "") if self.kind is ControlKind.IP_ADAPTER else "",
            weight=round(self.weight.value(), 2),
            start=self.start.value() / 100,
            end=self.end.value() / 100,
            mode=ControlMode(self.mode.currentData()),
            preprocessor=str(self.preprocessor.currentData())
            if self.kind is not ControlKind.IP_ADAPTER
            else "none",
            low_threshold=self.low.value(),
            high_threshold=self.high.value(),
        )

    def set_unit(self, unit: ControlUnit, enabled: bool = True) -> None:
        """Show `unit` (signals blocked: nothing is reported as an edit)."""
        self.kind = unit.kind
        set_quietly(self.enabled, "setChecked", enabled)
        self.enabled.setText(unit.kind.label)
        self._fill_models(unit.model)
        self._fill_sources(unit.image_name)
        self._fill_regions(unit.mask_name)
        set_quietly(
            self.preprocessor, "setCurrentIndex", max(0, self.preprocessor.findData(unit.preprocessor))
        )
        set_quietly(self.low, "setValue", unit.low_threshold)
        set_quietly(self.high, "setValue", unit.high_threshold)
        set_quietly(self.weight, "setValue", unit.weight)
        set_quietly(self.start, "setValue", round(unit.start * 100))
        set_quietly(self.end, "setValue", round(unit.end * 100))
        set_quietly(self.mode, "setCurrentIndex", max(0, self.mode.findData(unit.mode)))
        self._show_rows()
        self.refresh_thumbnail()

    def set_found(self, models: Iterable[Path]) -> None:
        """The models in the control model folders (those whose name suits this type come first)."""
        self._found = sorted(models, key=lambda p: guess_control_kind(p) is not self.kind)
        self._fill_models(str(self.model.currentData() or ""))

    def set_canvas(self, canvas: CanvasImages | None) -> None:
        """The canvas whose layers are offered as sources (None: files only)."""
        self._canvas = canvas
        self.refresh_sources()
        self.refresh_thumbnail()

    def refresh_sources(self) -> None:
        """The canvas's layers again (added, renamed or removed)."""
        self._fill_sources(str(self.source.currentData() or ""))
        self._fill_regions(str(self.region.currentData() or ""))

    # model and image lists ------------------------------------------------------------------------
    def _fill_models(self, current: str) -> None:
        combo = self.model
        combo.blockSignals(True)
        combo.clear()
        if not current:
            combo.addItem("Choose a model…", "")
        paths = [str(p) for p in self._found]
        for path in self._found:
            combo.addItem(path.name, str(path))
            combo.setItemData(combo.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        if current and current not in paths:
            combo.addItem(Path(current).name or current, current)
            combo.setItemData(combo.count() - 1, current, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Browse for a file…", BROWSE_FILE)
        combo.addItem("Browse for a diffusers folder…", BROWSE_FOLDER)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def _fill_sources(self, current: str) -> None:
        combo = self.source
        combo.blockSignals(True)
        combo.clear()
        if not current:
            combo.addItem("Choose an image…", "")
        names: list[str] = []
        if self._canvas is not None:
            names = [*self._canvas.layer_names(), FLATTENED]
        if current and current not in names:
            names.insert(0, current)  # a file, or a layer the canvas no longer has (said when run)
        for name in names:
            combo.addItem(source_label(name, self._canvas), name)
            combo.setItemData(combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Image file…", BROWSE_FILE)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def _fill_regions(self, current: str) -> None:
        combo = self.region
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Everywhere", "")
        names = list(self._canvas.layer_names()) if self._canvas is not None else []
        if current and current not in names:
            names.insert(0, current)
        for name in names:
            combo.addItem(source_label(name, self._canvas), name)
            combo.setItemData(combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
        combo.addItem("Mask image file…", BROWSE_FILE)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def _model_activated(self, index: int) -> None:
        data = self.model.itemData(index)
        if data in (BROWSE_FILE, BROWSE_FOLDER):
            path = (
                self._ask_file(f"{self.kind.label} model", MODEL_FILTER)
                if data == BROWSE_FILE
                else self._ask_folder(f"{self.kind.label} model folder (diffusers)")
            )
            self._fill_models(path or self._last(self.model))
        self._edited()

    def _source_activated(self, index: int) -> None:
        if self.source.itemData(index) == BROWSE_FILE:
            path = self._ask_file(f"Image for {self.kind.label}", IMAGE_FILTER)
            self._fill_sources(path or self._last(self.source))
        self._edited()

    def _region_activated(self, index: int) -> None:
        if self.region.itemData(index) == BROWSE_FILE:
            path = self._ask_file("Region mask (white: where the reference acts)", IMAGE_FILTER)
            self._fill_regions(path or self._last(self.region))
        self._edited()

    @staticmethod
    def _last(combo: QComboBox) -> str:
        """The value before a Browse… item was picked (kept when the dialog is cancelled)."""
        value = combo.property("last_value")
        return value if isinstance(value, str) else ""

    # showing --------------------------------------------------------------------------------------
    def _edited(self) -> None:
        self._show_rows()
        self.refresh_thumbnail()
        self.changed.emit()

    def _show_rows(self) -> None:
        for combo in (self.model, self.source, self.region):
            combo.setProperty("last_value", str(combo.currentData() or ""))
        image_model = self.kind is not ControlKind.IP_ADAPTER
        canny = image_model and self.preprocessor.currentData() == "canny"
        for widget, shown in (
            (self.region, not image_model),
            (self.preprocessor, image_model),
            (self.hint, image_model),
            (self.thresholds, canny),
            (self.mode, self.kind is ControlKind.CONTROLNET),
        ):
            self.form.setRowVisible(widget, shown)
        self.source.setToolTip(str(self.source.currentData() or "No image chosen"))

    def refresh_thumbnail(self) -> None:
        """The map the model will see (cheap: made from a small copy); a message when there is none."""
        unit = self.unit()
        try:
            image = self._source_image(unit.image_name) if unit.image_name else None
        except ValueError as exc:
            self._show_thumbnail(None, f"Image not readable: {exc}")
            return
        if image is None:
            self._show_thumbnail(None, "No image chosen")
            return
        self._show_thumbnail(preview_map(unit, image), "What the model sees")

    def _source_image(self, name: str) -> Image.Image:
        """The source's pixels; a file is read again only when it changed on disk."""
        path = Path(name)
        if self._canvas is not None and not path.is_absolute():
            return source_image(name, self._canvas)
        try:
            key = (name, path.stat().st_mtime_ns) if path.is_file() else None
        except OSError:
            key = None
        if key is not None and self._file_cache is not None and self._file_cache[0] == key:
            return self._file_cache[1]
        image = source_image(name, self._canvas)
        self._file_cache = (key, image) if key is not None else None
        return image

    def _show_thumbnail(self, image: Image.Image | None, tip: str) -> None:
        self.thumbnail.setToolTip(tip)
        if image is None:
            self.thumbnail.setPixmap(QPixmap())
            self.thumbnail.setText("no image")
            return
        pixmap = QPixmap.fromImage(pil_to_qimage(image))
        self.thumbnail.setPixmap(
            pixmap.scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )

    def thumbnail_image(self) -> QPixmap:
        return self.thumbnail.pixmap()


def _spin(low: int, high: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)
    return spin


def _double(low: float, high: float, step: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(2)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)
    return spin
