"""File dialogs, drag and drop, and clipboard for the canvas (kept out of the workspace class)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import ImageOps
from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QSpinBox, QWidget

from studio.core.document import FLAT_SUFFIXES, OPEN_FILTER_SUFFIXES, Document
from studio.core.images import open_image
from studio.ui.canvas.layers import rgb_from_qimage, rgba_from_qimage

log = logging.getLogger(__name__)
IMAGE_FILTER = "Images and layered documents (*.png *.jpg *.jpeg *.webp *.ora);;OpenRaster (*.ora)"
EXPORT_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;WebP, lossless (*.webp)"
SAVE_FILTER = "OpenRaster, with layers (*.ora);;" + EXPORT_FILTER


def ask_open_image(parent: QWidget) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open image", "", IMAGE_FILTER)
    return Path(name) if name else None


def ask_save_image(parent: QWidget, suggested: Path | None, layered: bool = False) -> Path | None:
    """Where to save; a layered document is offered .ora (its layers survive only there)."""
    suffix = ".ora" if layered else ".png"
    start = suggested.with_suffix(suffix) if suggested else Path(f"untitled{suffix}")
    name, _ = QFileDialog.getSaveFileName(parent, "Save", str(start), SAVE_FILTER)
    if not name:
        return None
    path = Path(name)
    return path if path.suffix.lower() in OPEN_FILTER_SUFFIXES else path.with_suffix(suffix)


def ask_export_image(parent: QWidget, suggested: Path | None) -> Path | None:
    start = suggested.with_suffix(".png") if suggested else Path("untitled.png")
    name, _ = QFileDialog.getSaveFileName(parent, "Export flattened image", str(start), EXPORT_FILTER)
    if not name:
        return None
    path = Path(name)
    return path if path.suffix.lower() in FLAT_SUFFIXES else path.with_suffix(".png")


def ask_mask_path(parent: QWidget, save: bool, suggested: Path | None = None) -> Path | None:
    if save:
        name, _ = QFileDialog.getSaveFileName(
            parent, "Save mask", str(suggested or "mask.png"), "PNG (*.png)"
        )
    else:
        name, _ = QFileDialog.getOpenFileName(parent, "Load mask", "", IMAGE_FILTER)
    return Path(name) if name else None


def ask_canvas_size(parent: QWidget, width: int = 1024, height: int = 1024) -> tuple[int, int] | None:
    dialog = QDialog(parent)
    dialog.setWindowTitle("New canvas")
    form = QFormLayout(dialog)
    spins = []
    for label, value in (("Width", width), ("Height", height)):
        spin = QSpinBox()
        spin.setRange(8, 8192)
        spin.setSingleStep(64)
        spin.setSuffix(" px")
        spin.setValue(value)
        form.addRow(label, spin)
        spins.append(spin)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return spins[0].value(), spins[1].value()


def image_path_from_mime(mime: QMimeData) -> Path | None:
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in OPEN_FILTER_SUFFIXES:
                return path
    return None


def document_from_mime(mime: QMimeData) -> Document | None:
    """An image file dropped/pasted, or raw image data (e.g. copied from a browser)."""
    path = image_path_from_mime(mime)
    if path is not None:
        return Document.open(path)
    if mime.hasImage():
        img = mime.imageData()
        if hasattr(img, "toImage"):  # a QPixmap
            img = img.toImage()
        if img is not None and not img.isNull():
            return Document(rgb_from_qimage(img))
    return None


def rgba_from_mime(mime: QMimeData) -> np.ndarray | None:
    """The clipboard's (or a drop's) image as straight RGBA: an image file, or raw image data."""
    path = image_path_from_mime(mime)
    if path is not None and path.suffix.lower() in FLAT_SUFFIXES:
        upright = ImageOps.exif_transpose(open_image(path))
        return np.asarray(upright.convert("RGBA")).copy()
    if path is not None:
        raise ValueError(f"{path.name} is a layered document; open it instead")
    if mime.hasImage():
        img = mime.imageData()
        if hasattr(img, "toImage"):  # a QPixmap
            img = img.toImage()
        if img is not None and not img.isNull():
            return rgba_from_qimage(img)
    return None
