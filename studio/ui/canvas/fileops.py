"""File commands of the canvas workspace: open, new, paste, save, masks, drag and drop, copy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication

from studio.core.document import Document
from studio.ui.canvas import files
from studio.ui.canvas.layers import qimage_from_rgb

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer

    from studio.ui.canvas.autosave import AutosaveWriter


if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    _MixinBase = QWidget  # the type checker sees the widget this is mixed into
else:
    _MixinBase = object


class FileCommands(_MixinBase):
    """Mixed into CanvasWorkspace (a QWidget): every method works on `self.doc`."""

    doc: Document
    autosave: AutosaveWriter
    _autosave_timer: QTimer
    _autosaved_version: int

    if TYPE_CHECKING:  # provided by CanvasWorkspace

        def set_document(self, doc: Document) -> bool: ...
        def _show_message(self, text: str) -> None: ...
        def _emit_title(self) -> None: ...

    def open_file(self, path: Path | None = None) -> bool:
        path = path or files.ask_open_image(self)
        if path is None:
            return False
        try:
            doc = Document.open(path)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not open {Path(path).name}: {exc}")
            return False
        return self.set_document(doc)

    def new_canvas(self, size: tuple[int, int] | None = None) -> bool:
        size = size or files.ask_canvas_size(self, *self.doc.size)
        return size is not None and self.set_document(Document.blank(*size))

    def paste(self) -> bool:
        doc = files.document_from_mime(QGuiApplication.clipboard().mimeData())
        if doc is None:
            self._show_message("The clipboard holds no image.")
            return False
        doc.version = 1  # pasted pixels exist nowhere else yet
        return self.set_document(doc)

    def save_image(self, path: Path | None = None, *, ask: bool = False) -> bool:
        if path is None:
            path = self.doc.path if (self.doc.path and not ask) else files.ask_save_image(self, self.doc.path)
        if path is None:
            return False
        try:
            self.doc.save_image(path)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not save {Path(path).name}: {exc}")
            return False
        self._autosave_timer.stop()  # the file on disk is the safe copy now: no restore offer
        self.autosave.close_clean()
        self._autosaved_version = self.doc.version
        self._emit_title()
        self._show_message(f"Saved {path}")
        return True

    def copy_image(self) -> None:
        QGuiApplication.clipboard().setImage(qimage_from_rgb(self.doc.image))
        self._show_message("Copied the canvas image.")

    def save_mask(self, path: Path | None = None) -> bool:
        path = path or files.ask_mask_path(self, save=True)
        if path is None:
            return False
        self.doc.save_mask(path)
        return True

    def load_mask(self, path: Path | None = None) -> bool:
        path = path or files.ask_mask_path(self, save=False)
        if path is None:
            return False
        try:
            self.doc.load_mask(path)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not load the mask: {exc}")
            return False
        return True

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        mime = event.mimeData()
        if files.image_path_from_mime(mime) is not None or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        try:
            doc = files.document_from_mime(event.mimeData())
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not open the dropped image: {exc}")
            return
        if doc is not None and self.set_document(doc):
            event.acceptProposedAction()
