"""At start: offer to restore canvas work that an earlier session left behind (crash, power cut)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.ui.canvas.autosave import Restorable, find_restorable

if TYPE_CHECKING:
    from studio.ui.canvas.workspace import CanvasWorkspace

log = logging.getLogger(__name__)
RestoreChoice = Callable[[QWidget, Restorable], str]  # "restore", "discard" or "later"


def ask_restore(parent: QWidget, item: Restorable) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.saved_at))
    name = f" ({item.source})" if item.source else ""
    box = QMessageBox(parent)
    box.setWindowTitle("Restore canvas")
    box.setText(f"Studio did not close cleanly. Restore the canvas{name} autosaved at {when}?")
    box.setInformativeText(f"{item.size[0]} × {item.size[1]} pixels, image and mask.")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Ask next time", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "restore" if clicked is restore else "discard" if clicked is discard else "later"


def offer_restore(
    canvas: CanvasWorkspace, parent: QWidget | None = None, choose: RestoreChoice = ask_restore
) -> bool:
    """If an unclean autosave exists, ask and restore it into `canvas`; True if restored."""
    item = find_restorable(canvas.autosave_dir)
    if item is None:
        return False
    choice = choose(parent or canvas, item)
    if choice == "restore":
        try:
            canvas.restore(item)
        except (OSError, ValueError) as exc:
            log.exception("Could not restore %s", item.folder)
            canvas.message.emit(f"The autosave could not be restored: {exc}")
            return False
        return True
    if choice == "discard":
        item.discard()
    return False
