"""QImage buffers mirrored from the document's numpy arrays, refreshed one dirty rect at a time."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

Rect = tuple[int, int, int, int]


class ImageLayer:
    """An RGB32 QImage that owns a numpy buffer; `update(rgb, rect)` copies only `rect`."""

    def __init__(self) -> None:
        self.buffer = np.zeros((1, 1, 4), np.uint8)
        self.qimage = QImage()

    def reset(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        self.buffer = np.empty((h, w, 4), np.uint8)
        self.buffer[..., 3] = 255
        self.qimage = QImage(self.buffer.data, w, h, w * 4, QImage.Format.Format_RGB32)
        self.update(rgb, (0, 0, w, h))

    def update(self, rgb: np.ndarray, rect: Rect) -> None:
        left, top, right, bottom = rect
        self.buffer[top:bottom, left:right, :3] = rgb[top:bottom, left:right, ::-1]  # memory order B,G,R,X

    @property
    def size(self) -> tuple[int, int]:
        return self.buffer.shape[1], self.buffer.shape[0]


class MaskLayer:
    """A premultiplied ARGB32 tint of the mask: value v -> tint colour at alpha v * opacity."""

    def __init__(self, color: QColor | None = None, opacity: float = 0.5) -> None:
        self.buffer = np.zeros((1, 1), np.uint32)
        self.qimage = QImage()
        self.set_color(color or QColor(255, 40, 90), opacity)

    def set_color(self, color: QColor, opacity: float) -> None:
        v = np.arange(256, dtype=np.float64) / 255.0 * opacity
        a = np.round(v * 255).astype(np.uint32)
        r = np.round(color.red() * v).astype(np.uint32)
        g = np.round(color.green() * v).astype(np.uint32)
        b = np.round(color.blue() * v).astype(np.uint32)
        self.lut = (a << 24) | (r << 16) | (g << 8) | b

    def reset(self, mask: np.ndarray) -> None:
        h, w = mask.shape
        self.buffer = np.empty((h, w), np.uint32)
        self.qimage = QImage(self.buffer.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self.update(mask, (0, 0, w, h))

    def update(self, mask: np.ndarray, rect: Rect) -> None:
        left, top, right, bottom = rect
        self.buffer[top:bottom, left:right] = self.lut[mask[top:bottom, left:right]]


def qimage_from_rgb(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of the pixels (safe after `rgb` goes away)."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


def rgb_from_qimage(img: QImage) -> np.ndarray:
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return arr[:, : w * 3].reshape(h, w, 3).copy()
