"""Exceptions as messages an artist can act on, and the rotating log file.

`describe_exception(exc)` -> (message, detail): one or two plain sentences plus the traceback for a
"details" section. `report_exception` also logs the traceback. `setup_logging(log_dir)` writes
`studio.log` (rotated) in the user's log folder.
"""

from __future__ import annotations

import errno
import functools
import json
import logging
import logging.handlers
import traceback
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

LOG_FILE = "studio.log"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
_MAX_BYTES = 2 * 1024 * 1024
_BACKUPS = 5


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(message for the artist, technical detail)."""
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).strip()
    return _message(exc), detail


def report_exception(exc: BaseException, context: str = "") -> tuple[str, str]:
    """`describe_exception`, and the traceback goes to the log."""
    message, detail = describe_exception(exc)
    log.error("%s%s\n%s", f"{context}: " if context else "", message, detail)
    return message, detail


def _message(exc: BaseException) -> str:
    for kind, describe in _describers():
        if isinstance(exc, kind):
            return describe(exc)
    return _generic(exc)


def _file_name(exc: OSError) -> str:
    return str(exc.filename) if exc.filename else "the file"


def _not_found(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    return f"{_file_name(exc)} was not found. It may have been moved, renamed or deleted."


def _permission(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    return (
        f"Studio is not allowed to open {_file_name(exc)}. "
        "Check the file's permissions or choose another folder."
    )


def _os_error(exc: BaseException) -> str:
    assert isinstance(exc, OSError)
    if exc.errno == errno.ENOSPC:
        return "The disk is full. Free some space or choose another folder, then try again."
    if exc.errno == errno.EROFS:
        return f"{_file_name(exc)} is on a read-only disk. Choose another folder."
    if isinstance(exc, IsADirectoryError):
        return f"{_file_name(exc)} is a folder, not a file."
    if exc.filename:
        reason = exc.strerror or str(exc)
        return f"Could not use {exc.filename}: {reason}."
    return f"A file operation failed: {exc.strerror or exc}."


def _unidentified_image(exc: BaseException) -> str:
    return f"This file is not an image Studio can open ({exc})."


def _memory(exc: BaseException) -> str:
    return (
        "Studio ran out of memory. Close other programs, or try a smaller image size or batch, "
        "then try again."
    )


def _json(exc: BaseException) -> str:
    assert isinstance(exc, json.JSONDecodeError)
    return f"The file is not valid JSON (line {exc.lineno}, column {exc.colno}): it may be damaged."


def _unicode(exc: BaseException) -> str:
    return "The file contains text Studio cannot read (it is not UTF-8); it may be damaged or binary."


def _value(exc: BaseException) -> str:
    return str(exc) or "A value was not valid."


def _generic(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    what = f"{name}: {text}" if text else name
    return f"Something went wrong ({what}). Details are in the log; please report this if it repeats."


@functools.cache
def _describers() -> list[tuple[type[BaseException], Callable[[BaseException], str]]]:
    from PIL import UnidentifiedImageError  # here: keep Pillow off the path to logging set-up

    return [
        (FileNotFoundError, _not_found),
        (PermissionError, _permission),
        (UnidentifiedImageError, _unidentified_image),
        (OSError, _os_error),
        (MemoryError, _memory),
        (json.JSONDecodeError, _json),
        (UnicodeError, _unicode),
        (ValueError, _value),
    ]


def setup_logging(log_dir: Path, level: int = logging.INFO, console: bool = False) -> Path:
    """Log to `log_dir/studio.log` (2 MB x 5 rotations); idempotent. Returns the log file path."""
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    path = (log_dir / LOG_FILE).absolute()
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == path:
            handler.setLevel(level)
            return path
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=_MAX_BYTES, backupCount=_BACKUPS, encoding="utf-8", delay=True
    )
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.setLevel(level)
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(stream)
    logging.captureWarnings(True)
    log.info("Logging to %s", path)
    return path
