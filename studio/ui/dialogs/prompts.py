"""Every question the window asks the artist goes through one object, so tests can answer them."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp)"
MODEL_FILTER = "Model files (*.safetensors *.ckpt)"


class Prompts:
    """Modal dialogs. Tests replace an instance's methods (or the whole object) with canned answers."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_text(self, title: str, label: str, text: str = "") -> str | None:
        value, ok = QInputDialog.getText(self.parent, title, label, text=text)
        return value.strip() if ok and value.strip() else None

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def info(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def open_file(self, title: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, "", file_filter)
        return path or None

    def save_file(self, title: str, suggested: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, file_filter)
        return path or None

    def open_folder(self, title: str) -> str | None:
        return QFileDialog.getExistingDirectory(self.parent, title) or None
