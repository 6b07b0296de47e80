"""Conversions between numpy/PIL images and QImage. QImages are always deep copies, so they never
point into a numpy or PIL buffer that may be freed; QPixmaps are built by callers on the GUI thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader


def array_to_qimage(array: np.ndarray) -> QImage:
    """HxWx3 (or HxWx4) uint8 -> an independent QImage."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if array.ndim == 2:
        array = np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    height, width, channels = array.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    image = QImage(array.data, width, height, array.strides[0], fmt)
    return image.copy()


def pil_to_qimage(image: Image.Image) -> QImage:
    mode = "RGBA" if image.mode in ("RGBA", "LA") else "RGB"
    return array_to_qimage(np.asarray(image.convert(mode)))


def qimage_to_pil(image: QImage) -> Image.Image:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    width, height = image.width(), image.height()
    buffer = bytes(image.constBits())[: image.bytesPerLine() * height]
    rows = np.frombuffer(buffer, dtype=np.uint8).reshape(height, image.bytesPerLine())
    pixels = rows[:, : width * 4].reshape(height, width, 4)
    return Image.fromarray(pixels.copy(), "RGBA").convert("RGB")


def load_thumbnail(path: Path, size: int) -> QImage:
    """Read an image scaled to fit `size` (safe off the GUI thread; returns a null QImage on error)."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid():
        reader.setScaledSize(original.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()
