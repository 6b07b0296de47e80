"""Init-image slot for img2img: drop or load an image, clear it; shows a thumbnail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from studio.core.images import open_image
from studio.ui.icons import icon
from studio.ui.images import pil_to_qimage

log = logging.getLogger(__name__)
THUMB = 72


class InitImageSlot(QWidget):
    image_chosen = Signal(object)  # PIL image or None
    load_failed = Signal(str)

    def __init__(self, ask_image: Callable[[], str | None]) -> None:
        super().__init__()
        self._ask_image = ask_image
        self.setAcceptDrops(True)
        self.thumb = QLabel("Drop an image\nfor img2img")
        self.thumb.setObjectName("initSlot")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setToolTip(
            "Start from this image instead of noise (img2img). Drop a file here or use Load."
        )
        self.info = QLabel("Text to image")
        self.info.setObjectName("dimLabel")
        self.load_button = QToolButton()
        self.load_button.setIcon(icon("image"))
        self.load_button.setText("Load…")
        self.load_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.load_button.setToolTip("Choose an init image for img2img")
        self.load_button.clicked.connect(self._load)
        self.clear_button = QToolButton()
        self.clear_button.setIcon(icon("close"))
        self.clear_button.setText("Clear")
        self.clear_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.clear_button.setToolTip("Remove the init image (back to text to image)")
        self.clear_button.clicked.connect(lambda: self.image_chosen.emit(None))
        buttons = QVBoxLayout()
        buttons.addWidget(self.info)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.thumb)
        layout.addLayout(buttons, 1)
        self.show_image(None)

    def show_image(self, image: Image.Image | None) -> None:
        """View-model -> widget."""
        self.clear_button.setEnabled(image is not None)
        if image is None:
            self.thumb.setPixmap(QPixmap())
            self.thumb.setText("Drop an image\nfor img2img")
            self.info.setText("Text to image")
            return
        pixmap = QPixmap.fromImage(pil_to_qimage(image)).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.thumb.setPixmap(pixmap)
        self.info.setText(f"Image to image · {image.width}×{image.height}")

    def load_path(self, path: str | Path) -> None:
        try:
            image = open_image(path).convert("RGB")  # ImageReadError: too large, not an image, ...
        except (OSError, ValueError) as exc:
            log.warning("Cannot open init image %s: %s", path, exc)
            self.load_failed.emit(f"Could not open {Path(path).name}: {exc}")
            return
        self.image_chosen.emit(image)

    def _load(self) -> None:
        path = self._ask_image()
        if path:
            self.load_path(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt name)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt name)
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.load_path(urls[0].toLocalFile())
