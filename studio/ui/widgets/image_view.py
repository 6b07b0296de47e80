"""A widget that shows one image scaled to fit, centred on a dark backdrop (previews and results)."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget


class ImageView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setMinimumSize(256, 256)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image = QImage()
        self._pixmap = QPixmap()
        self._placeholder = "Write a prompt and press Generate (Ctrl+Enter)"
        self._caption = ""
        self._smooth = False

    def sizeHint(self) -> QSize:
        return QSize(640, 640)

    def set_image(self, image: QImage, caption: str = "", *, smooth: bool = False) -> None:
        """Show `image` (GUI thread only: builds the QPixmap here). `smooth` also smooths when
        enlarging (low-resolution previews); otherwise small images enlarge with crisp pixels."""
        self._smooth = smooth
        self._image = image
        self._pixmap = QPixmap.fromImage(image) if not image.isNull() else QPixmap()
        self._caption = caption
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        if placeholder is not None:
            self._placeholder = placeholder
        self.set_image(QImage())

    def image(self) -> QImage:
        return self._image

    def caption(self) -> str:
        return self._caption

    def image_rect(self) -> QRect:
        """Where the image is drawn inside the widget (empty when no image)."""
        if self._pixmap.isNull():
            return QRect()
        margin = 12
        area = self.rect().adjusted(margin, margin, -margin, -margin - (18 if self._caption else 0))
        size = self._pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = area.x() + (area.width() - size.width()) // 2
        y = area.y() + (area.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(115))
        if self._pixmap.isNull():
            painter.setPen(QColor(140, 140, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        target = self.image_rect()
        # Small images (the tiny model's 64 px) upscale crisply; large ones downscale smoothly.
        smooth = self._smooth or target.width() < self._pixmap.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawPixmap(target, self._pixmap)
        painter.setPen(QPen(QColor(0, 0, 0, 120), 1))
        painter.drawRect(target.adjusted(-1, -1, 0, 0))
        if self._caption:
            painter.setPen(QColor(170, 170, 180))
            caption_rect = QRect(0, target.bottom() + 4, self.width(), 18)
            painter.drawText(caption_rect, Qt.AlignmentFlag.AlignHCenter, self._caption)
