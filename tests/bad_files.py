"""Hostile input files for the bad-input tests: deep JSON, decompression-bomb PNGs, 16-bit PNGs."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

DEEP_JSON = "[" * 100_000


def bomb_png(path: Path, side: int = 20_000) -> Path:
    """A tiny file whose header claims side x side pixels (20000^2 = 400 M: over Pillow's limit).

    Only the header is real: Pillow refuses it in Image.open, before any pixel is decoded.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    text = chunk(b"tEXt", b"parameters\x00a cat\nSteps: 20")
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + text
    data += chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def png_16bit(path: Path, values: np.ndarray) -> Path:
    """A 16-bit greyscale PNG (Pillow reads it as "I;16" or "I") holding `values` (0..65535)."""
    Image.fromarray(values.astype(np.uint16)).save(path)
    return path


def png_with_studio_json(path: Path, studio_text: str, parameters: str | None = None) -> Path:
    info = PngInfo()
    if parameters is not None:
        info.add_text("parameters", parameters)
    info.add_itxt("studio", studio_text)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(path, pnginfo=info)
    return path
