"""The "Upscale…" dialog (the Generate tab's history, the canvas's layers): factor, upscaler (Lanczos,
Nearest or a model upscaler from the upscaler folders) and an optional tiled refine (strength, tile
size, overlap) with the current prompt and model. Gives `UpscaleOptions`; runs nothing itself."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from studio.core.request import (
    MAX_TILE,
    MAX_UPSCALE,
    MAX_UPSCALE_SIDE,
    MIN_TILE,
    PIXEL_UPSCALERS,
    UpscaleOptions,
)

# (parent, image size, model upscaler names, title) -> the options, or None when cancelled
AskUpscale = Callable[[QWidget | None, tuple[int, int], Sequence[str], str], UpscaleOptions | None]


class UpscaleDialog(QDialog):
    def __init__(
        self,
        size: tuple[int, int],
        models: Sequence[str],
        title: str = "Upscale",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self._size = size
        defaults = UpscaleOptions(enabled=True)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(1.0, largest_factor(size))
        self.scale.setSingleStep(0.5)
        self.scale.setValue(defaults.scale)
        self.result_size = QLabel()
        self.upscaler = QComboBox()
        self.upscaler.addItems([*PIXEL_UPSCALERS, *models])
        self.upscaler.setToolTip(
            "Lanczos / Nearest resize the picture; the others are model upscalers (ESRGAN, …) from the "
            "upscaler folders (Settings), which add detail"
        )
        self.refine = QCheckBox("Refine with the prompt and model (img2img, tile by tile)")
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.05, 1.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(0.3)
        self.strength.setToolTip("Denoising strength of the refine: low keeps the picture, high redraws it")
        self.tile = QSpinBox()
        self.tile.setRange(MIN_TILE, MAX_TILE)
        self.tile.setSingleStep(64)
        self.tile.setValue(defaults.tile)
        self.tile.setToolTip("Refine tiles of this size (px): large images are refined a tile at a time")
        self.overlap = QSpinBox()
        self.overlap.setRange(0, defaults.tile // 2)  # follows the tile: at most half of it
        self.overlap.setValue(defaults.overlap)
        self.overlap.setToolTip("Pixels neighbouring tiles share; they are blended so no seam shows")
        self._lay_out()
        self.scale.valueChanged.connect(lambda _v: self._show_size())
        self.refine.toggled.connect(self._show_refine)
        self.tile.valueChanged.connect(lambda _v: self.overlap.setMaximum(self._tile() // 2))
        self._show_size()
        self._show_refine(False)

    def _lay_out(self) -> None:
        """The fields in a form, "Upscale" and "Cancel" under them."""
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Upscale")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Factor", self.scale)
        form.addRow("Result", self.result_size)
        form.addRow("Upscaler", self.upscaler)
        form.addRow(self.refine)
        form.addRow("Strength", self.strength)
        form.addRow("Tile size", self.tile)
        form.addRow("Tile overlap", self.overlap)
        form.addRow(buttons)

    def options(self) -> UpscaleOptions:
        return UpscaleOptions(
            enabled=True,
            scale=float(self.scale.value()),
            upscaler=self.upscaler.currentText(),
            refine=float(self.strength.value()) if self.refine.isChecked() else 0.0,
            tile=self._tile(),
            overlap=min(int(self.overlap.value()), self._tile() // 2),
        )

    def _tile(self) -> int:
        """The tile size sent: the box's value rounded down to a multiple of 8."""
        return int(self.tile.value()) // 8 * 8

    def _show_size(self) -> None:
        width, height = self.options().size(*self._size)
        self.result_size.setText(f"{self._size[0]} × {self._size[1]} → {width} × {height}")

    def _show_refine(self, on: bool) -> None:
        for widget in (self.strength, self.tile, self.overlap):
            widget.setEnabled(on)


def largest_factor(size: tuple[int, int]) -> float:
    """The largest factor (2 decimals) whose result the engine takes: MAX_UPSCALE, less when a side would
    pass MAX_UPSCALE_SIDE (never below 1)."""
    fits = math.floor(MAX_UPSCALE_SIDE / max(size[0], size[1], 1) * 100) / 100
    return max(1.0, min(MAX_UPSCALE, fits))


def ask_upscale(
    parent: QWidget | None, size: tuple[int, int], models: Sequence[str], title: str = "Upscale"
) -> UpscaleOptions | None:
    """Show the dialog; the options, or None when the artist cancels."""
    dialog = UpscaleDialog(size, models, title, parent)
    return dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None
