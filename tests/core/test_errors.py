"""Error messages for artists and the rotating log file."""

from __future__ import annotations

import errno
import json
import logging
import logging.handlers
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from studio.core.errors import describe_exception, report_exception, setup_logging


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - we want the traceback attached
        return caught


def test_value_error_is_its_message_with_traceback_detail() -> None:
    message, detail = describe_exception(_raised(ValueError("Steps must be between 1 and 150, not 0.")))
    assert message == "Steps must be between 1 and 150, not 0."
    assert "Traceback" in detail and "ValueError" in detail


@pytest.mark.parametrize(
    ("exc", "fragments"),
    [
        (FileNotFoundError(errno.ENOENT, "No such file", "/x/cat.png"), ["/x/cat.png", "not found"]),
        (
            PermissionError(errno.EACCES, "Permission denied", "/x/out"),
            ["/x/out", "not allowed", "permissions"],
        ),
        (OSError(errno.ENOSPC, "No space left on device"), ["disk is full"]),
        (OSError(errno.EIO, "I/O error", "/x/y"), ["/x/y", "I/O error"]),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/x"), ["/x", "folder"]),
        (MemoryError(), ["out of memory", "smaller"]),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), ["not UTF-8"]),
        (RuntimeError("boom"), ["Something went wrong", "RuntimeError: boom", "log"]),
        (KeyError("vae"), ["KeyError", "vae"]),
    ],
)
def test_messages_for_common_failures(exc: BaseException, fragments: list[str]) -> None:
    message, _ = describe_exception(_raised(exc))
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in message


def test_json_and_image_errors(tmp_path: Path) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads('{"a": ')
    assert "not valid JSON" in describe_exception(info.value)[0]
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"hello")
    with pytest.raises(UnidentifiedImageError) as img_info:
        Image.open(bad)
    assert "not an image" in describe_exception(img_info.value)[0]


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield root
    for handler in root.handlers:
        if handler not in before:
            handler.close()
    root.handlers[:] = before
    root.setLevel(level)
    logging.captureWarnings(False)


def test_setup_logging_writes_rotating_file_once(tmp_path: Path, clean_root: logging.Logger) -> None:
    path = setup_logging(tmp_path / "logs", logging.DEBUG)
    again = setup_logging(tmp_path / "logs", logging.DEBUG)
    assert path == again == (tmp_path / "logs" / "studio.log").absolute()
    rotating = [h for h in clean_root.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(rotating) == 1 and rotating[0].backupCount >= 1 and rotating[0].maxBytes > 0
    logging.getLogger("studio.test").debug("hello from the test")
    message, _ = report_exception(_raised(RuntimeError("kaput")), "Saving")
    for handler in rotating:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "hello from the test" in text and "Saving: Something went wrong" in text
    assert "Traceback" in text and "kaput" in message
