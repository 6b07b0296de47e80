"""Guard against a PySide6 6.12 refcount bug on Python < 3.12.

Measured here (PySide6 6.12.0, shiboken6 6.12.0, CPython 3.11.7): every call of a Qt method that
returns void takes one reference from `None` without giving it back (QPainter.drawImage,
QWidget.update, QSpinBox.setValue, ...). None starts with a few thousand references, so a GUI that
paints for a few seconds dies with "Fatal Python error: none_dealloc". From Python 3.12 on, None is
immortal (PEP 683) and the bug is harmless. On older Pythons we give None 2**40 extra references
once, which is what immortality amounts to; the lead should call this from app.py at start.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)
HEADROOM = 2**40
_done = False


def ensure_none_refcount_headroom() -> None:
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of PyObject
    refcnt.value += HEADROOM
    _done = True
    log.debug("Gave None %d extra references (PySide6 void-return refcount bug)", HEADROOM)
