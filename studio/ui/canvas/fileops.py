"""File commands of the canvas workspace: open, new, paste as a layer, save (.ora keeps the layers),
export the flattened image, masks, drag and drop, copy.

Nothing is lost by saving: a document whose layers a flat image cannot hold (`needs_layers_file`)
is saved as OpenRaster; writing it to PNG/JPEG/WebP is an export that leaves it unsaved.
"""

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
        """Ctrl+V: the clipboard's image becomes a new layer above the selected one (centred)."""
        try:
            rgba = files.rgba_from_mime(QGuiApplication.clipboard().mimeData())
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not paste: {exc}")
            return False
        if rgba is None:
            self._show_message("The clipboard holds no image.")
            return False
        layer, cropped = self.doc.paste_layer(rgba)
        w, h = rgba.shape[1], rgba.shape[0]
        note = (
            f" (cropped: the image is {w}x{h}, the canvas {self.doc.width}x{self.doc.height})"
            if cropped
            else ""
        )
        self._show_message(f"Pasted as the layer {layer.name}{note}.")
        return True

    def save_image(self, path: Path | None = None, *, ask: bool = False) -> bool:
        """Save the document (Ctrl+S): True when it is saved. A layered document goes to .ora; if
        another format is chosen, a flattened copy is exported and the document stays unsaved."""
        layered = self.doc.needs_layers_file()
        if path is None:
            current = self.doc.path
            keeps_layers = current is not None and (current.suffix.lower() == ".ora" or not layered)
            path = (
                current
                if (current and keeps_layers and not ask)
                else files.ask_save_image(self, current, layered)
            )
        if path is None:
            return False
        if layered and Path(path).suffix.lower() != ".ora":
            self.export_image(path)
            self._show_message(
                f"Exported a flattened copy to {path}; the layers are kept only in an .ora file."
            )
            return False
        try:
            self.doc.save(path)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not save {Path(path).name}: {exc}")
            return False
        self._autosave_timer.stop()  # the file on disk is the safe copy now: no restore offer
        self.autosave.close_clean()
        self._autosaved_version = self.doc.version
        self._emit_title()
        self._show_message(f"Saved {path}")
        return True

    def export_image(self, path: Path | None = None) -> bool:
        """Write the flattened image (PNG with the last accepted result's generation parameters);
        the document's own file and saved state do not change."""
        path = path or files.ask_export_image(self, self.doc.path)
        if path is None:
            return False
        try:
            self.doc.export_flat(path)
        except (OSError, ValueError) as exc:
            self._show_message(f"Could not export {Path(path).name}: {exc}")
            return False
        self._show_message(f"Exported {path}")
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
