"""The one place image files are read: clear errors for bad files, 16-bit images made 8-bit.

`open_image(path)` loads a file fully (so it can be closed) and raises `ImageReadError` (a
ValueError whose text is one line for a person) for a missing file, a folder, a file that is not an
image, and an image too large to decode safely (Pillow's decompression-bomb limit, warning or
error). `to_8bit` turns 16-bit and 32-bit greyscale ("I;16", "I", "F") into "L" by scaling the
value range 0..65535 to 0..255 (Pillow's own convert would clip, making a 16-bit mask all white).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


class ImageReadError(ValueError):
    """An image file that cannot be used; the message names the file and says why."""


@contextmanager
def open_guarded(path: Path) -> Iterator[Image.Image]:
    """`Image.open(path)`, lazily, as a context manager that refuses a folder and an image too large to
    decode safely (Pillow's decompression-bomb warning or error, also while the body loads it) with
    ImageReadError; any other error passes through."""
    name = path.name or str(path)
    if path.is_dir():
        raise ImageReadError(f"{name} is a folder, not an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                yield im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(too_large_message(name, exc)) from exc


def open_image(path: Path | str) -> Image.Image:
    """The image in `path`, fully loaded, as Pillow reads it except that 16-bit becomes 8-bit "L"."""
    path = Path(path)
    name = path.name or str(path)
    try:
        with open_guarded(path) as im:
            im.load()
            return to_8bit(im.copy())
    except ImageReadError:
        raise
    except FileNotFoundError as exc:
        raise ImageReadError(f"{name} was not found") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name} is not an image Studio can read") from exc
    except (OSError, ValueError) as exc:  # truncated or damaged data, permissions
        raise ImageReadError(f"{name} could not be read: {_one_line(exc)}") from exc


def too_large_message(name: str, exc: BaseException) -> str:
    """The message for Pillow's decompression-bomb refusal (its pixel count, when it gave one)."""
    counts = re.findall(r"\d+", str(exc))
    pixels = f" ({int(counts[0]) / 1e6:.0f} million pixels)" if counts else ""
    limit = Image.MAX_IMAGE_PIXELS or 0
    return (
        f"{name} is too large to open safely{pixels}; Studio opens images of up to "
        f"{limit / 1e6:.0f} million pixels"
    )


def to_8bit(img: Image.Image) -> Image.Image:
    """16-bit ("I;16", "I") greyscale scaled to "L"; float ("F") taken as 0..1 when it fits, else 0..255."""
    if img.mode in _SIXTEEN_BIT:
        arr = np.asarray(img, dtype=np.float64) / 257.0
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = arr * 255.0 if arr.size and float(arr.max()) <= 1.0 else arr
    else:
        return img
    out = Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))
    out.info = dict(img.info)
    return out


def _one_line(value: object) -> str:
    return " ".join(str(value).split()) or type(value).__name__
