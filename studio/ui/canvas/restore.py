"""At start: offer to restore canvas work that an earlier session left behind (crash, power cut)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.ui.canvas.autosave import Restorable, find_all_restorable

if TYPE_CHECKING:
    from studio.ui.canvas.workspace import CanvasWorkspace

log = logging.getLogger(__name__)
RestoreChoice = Callable[[QWidget, Restorable], str]  # "restore", "discard" or "later"


RESTORE_TITLE = "Restore unsaved work"


def ask_restore(parent: QWidget, item: Restorable) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.saved_at))
    name = f" ({item.source})" if item.source else ""
    box = QMessageBox(parent)
    box.setWindowTitle(RESTORE_TITLE)
    box.setText(f"Studio did not close cleanly. Restore the canvas{name} autosaved at {when}?")
    layers = "1 layer" if item.layer_count == 1 else f"{item.layer_count} layers"
    box.setInformativeText(f"{item.size[0]} × {item.size[1]} pixels, {layers} and the mask.")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Ask next time", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def offer_restore(
    canvas: CanvasWorkspace, parent: QWidget | None = None, choose: RestoreChoice = ask_restore
) -> bool:
    """Offer each autosave that crashed sessions left (newest first) and restore the chosen one into
    `canvas`; True if one was restored. The canvas holds one document: once one is restored, the
    others stay for the next start. Live sessions' autosaves are never offered."""
    restored = False
    for item in find_all_restorable(canvas.autosave_dir):
        if restored:
            item.release()
            continue
        choice = choose(parent or canvas, item)
        log.info("Autosave %s (%d x %d): %s", item.folder.name, *item.size, choice)
        if choice == "restore":
            restored = _restore(canvas, item)
        elif choice == "discard":
            item.discard()
        else:
            item.release()
    return restored


def _restore(canvas: CanvasWorkspace, item: Restorable) -> bool:
    try:
        canvas.restore(item)
    except (OSError, ValueError) as exc:
        log.exception("Could not restore %s", item.folder)
        item.release()
        canvas.message.emit(f"The autosave could not be restored: {exc}")
        return False
    return True
