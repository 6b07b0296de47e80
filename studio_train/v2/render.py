"""Render SVG icons to RGB on white with Qt's SVG renderer (offscreen, no window)."""

from __future__ import annotations

import os

import numpy as np


def ensure_gui_app() -> object:
    """A Qt application (offscreen unless a platform is set): QPainter needs one. A QApplication, not
    a QGuiApplication: in a process that later shows widgets (the test suite), a QGuiApplication would
    be the instance they find, and creating a QWidget then aborts the process."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
    return app


def render_svg(svg: str, size: int) -> np.ndarray | None:
    """uint8 (size, size, 3): the SVG scaled to fit the square, centred on white; None if invalid."""
    from PySide6.QtCore import QByteArray, QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        return None
    box = renderer.viewBoxF()
    scale = size / max(box.width(), box.height(), 1e-6)
    w, h = box.width() * scale, box.height() * scale
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF((size - w) / 2, (size - h) / 2, w, h))
    painter.end()
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    stride = image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=stride * size).reshape(size, stride)
    return buf[:, : size * 3].reshape(size, size, 3).copy()
