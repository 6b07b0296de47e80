"""The canvas workspace: paint masks, inpaint and outpaint, undo, autosave and restore."""

from studio.ui.canvas.autosave import Restorable, find_all_restorable, find_restorable
from studio.ui.canvas.restore import offer_restore
from studio.ui.canvas.workspace import CanvasWorkspace

__all__ = [
    "CanvasWorkspace",
    "Restorable",
    "find_all_restorable",
    "find_restorable",
    "offer_restore",
]
