"""QImages of the document: its layers (views of their arrays, no copy) and the mask tint (refreshed by
dirty rect)."""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtGui import QColor, QImage

from studio.core.layers import Layer, union_rect

Rect = tuple[int, int, int, int]


class LayerImages:
    """One ARGB32_Premultiplied QImage per document layer, each a view of the layer's own numpy array
    (`core.layers` keeps premultiplied B,G,R,A: Qt's memory order on little-endian machines), so a
    stroke needs no copy at all: the view just repaints. Rebuilt when the stack changes (cheap)."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.qimages: list[QImage] = []
        self._arrays: list[np.ndarray] = []  # each QImage's memory: kept alive while it is drawn
        self.size = (0, 0)

    def reset(self, layers: list[Layer]) -> None:
        if sys.byteorder != "little":  # pragma: no cover - no big-endian desktop exists to test it
            raise RuntimeError("The canvas needs a little-endian machine (Qt's ARGB32 byte order).")
        self.layers = list(layers)
        self._arrays = [x.pixels for x in self.layers]
        self.qimages = [_wrap(a) for a in self._arrays]
        self.size = (self.layers[0].width, self.layers[0].height) if self.layers else (0, 0)

    def current(self, layers: list[Layer]) -> bool:
        """Whether these images still show exactly `layers` (same objects, same arrays)."""
        return len(layers) == len(self.layers) and all(
            a is b and a.pixels is p for a, b, p in zip(layers, self.layers, self._arrays, strict=True)
        )


def _wrap(pixels: np.ndarray) -> QImage:
    if not pixels.flags.c_contiguous:
        raise ValueError("Layer pixels must be C-contiguous to be drawn without a copy.")
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)


class MaskLayer:
    """A premultiplied ARGB32 tint of the mask: value v -> tint colour at alpha v * opacity."""

    def __init__(self, color: QColor | None = None, opacity: float = 0.5) -> None:
        self.buffer = np.zeros((1, 1), np.uint32)
        self.qimage = QImage()
        self.bounds: Rect | None = None  # holds every tinted pixel (may be larger): drawn only there
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
        self.bounds = None
        self.update(mask, (0, 0, w, h))

    def update(self, mask: np.ndarray, rect: Rect) -> None:
        left, top, right, bottom = rect
        values = mask[top:bottom, left:right]
        self.buffer[top:bottom, left:right] = self.lut[values]
        if values.any():
            self.bounds = union_rect(self.bounds, rect)


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


def rgba_from_qimage(img: QImage) -> np.ndarray:
    """Straight-alpha RGBA pixels of any QImage (a copy)."""
    img = img.convertToFormat(QImage.Format.Format_RGBA8888)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(
        h, img.bytesPerLine()
    )
    return arr[:, : w * 4].reshape(h, w, 4).copy()
