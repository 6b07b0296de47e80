"""OpenRaster (.ora) files: the layered canvas document as other painting programs read it.

Written per the OpenRaster spec: a zip whose first entry is `mimetype` (stored, "image/openraster"),
then `stack.xml` (`<image w h><stack><layer name src x y opacity visibility/>...`, top layer first),
one straight-alpha RGBA PNG per layer under `data/` (cropped to the layer's content, placed with x/y),
`mergedimage.png` (the flattened picture) and `Thumbnails/thumbnail.png` (at most 256 px). The
layer's kind is kept in a `studio:kind` attribute that other programs ignore. Written atomically.

Reading checks everything before building layers, so a bad file gives an `OraError` (a ValueError
with a message for a person) and the open document stays as it was: not a zip, no stack.xml, bad XML,
a canvas over Pillow's pixel limit, too many layers, a layer PNG missing, over-large (zip bombs:
the sizes in the zip directory are checked before anything is inflated, and reads are bounded) or
not a PNG. Nested stacks (groups) are read as their layers, with the group's opacity and visibility
applied.
"""

from __future__ import annotations

import io
import logging
import warnings
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.fileio import atomic_write_bytes
from studio.core.layers import Layer, LayerKind, slices

log = logging.getLogger(__name__)

MIMETYPE = b"image/openraster"
STUDIO_NS = "https://github.com/studio-app/studio/ora"
MAX_LAYERS = 256
MAX_XML_BYTES = 4 * 1024 * 1024
THUMBNAIL_MAX = 256


class OraError(ValueError):
    """An OpenRaster file that cannot be read; the message names the file and says why."""


@dataclass
class OraDocument:
    """What a .ora file holds: its layers bottom first (each the canvas size) and the selected one."""

    size: tuple[int, int]
    layers: list[Layer]
    active: int


# writing ------------------------------------------------------------------------------------------
def write_ora(path: Path, layers: list[Layer], merged_rgb: np.ndarray, *, active: int = 0) -> Path:
    """Write `layers` (bottom first) and their flattened image `merged_rgb` to `path`, atomically."""
    path = Path(path)
    atomic_write_bytes(path, ora_bytes(layers, merged_rgb, active=active))
    return path


def ora_bytes(layers: list[Layer], merged_rgb: np.ndarray, *, active: int = 0, png_level: int = 6) -> bytes:
    h, w = merged_rgb.shape[:2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), MIMETYPE, compress_type=zipfile.ZIP_STORED)
        stack_xml, pngs = _stack(layers, (w, h), active, png_level)
        zf.writestr("stack.xml", stack_xml)
        for name, data in pngs:
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)  # PNG is compressed already
        merged = Image.fromarray(merged_rgb, "RGB")
        zf.writestr("mergedimage.png", _png(merged, png_level), compress_type=zipfile.ZIP_STORED)
        thumb = merged.copy()
        thumb.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX))
        zf.writestr("Thumbnails/thumbnail.png", _png(thumb, png_level), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()


def _stack(
    layers: list[Layer], size: tuple[int, int], active: int, png_level: int
) -> tuple[bytes, list[tuple[str, bytes]]]:
    image = ET.Element(
        "image", {"version": "0.0.6", "w": str(size[0]), "h": str(size[1]), "xmlns:studio": STUDIO_NS}
    )
    stack = ET.SubElement(image, "stack")
    pngs: list[tuple[str, bytes]] = []
    for index in range(len(layers) - 1, -1, -1):  # OpenRaster lists the top layer first
        layer = layers[index]
        src = f"data/layer{index}.png"
        rect = layer.bounds or (0, 0, 1, 1)
        rgba = layer.rgba()[slices(rect)] if layer.bounds else np.zeros((1, 1, 4), np.uint8)
        pngs.append((src, _png(Image.fromarray(rgba, "RGBA"), png_level)))
        attrs = {
            "name": layer.name,
            "src": src,
            "x": str(rect[0]),
            "y": str(rect[1]),
            "opacity": f"{layer.opacity:.4f}".rstrip("0").rstrip(".") or "0",
            "visibility": "visible" if layer.visible else "hidden",
            "composite-op": "svg:src-over",
            "studio:kind": layer.kind.value,  # read back as {STUDIO_NS}kind
        }
        if index == active:
            attrs["selected"] = "true"
        ET.SubElement(stack, "layer", attrs)
    xml = ET.tostring(image, encoding="utf-8", xml_declaration=True)
    return xml, pngs


def _png(img: Image.Image, level: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=level)
    return buf.getvalue()


# reading ------------------------------------------------------------------------------------------
@dataclass
class _Entry:
    name: str
    src: str
    x: int
    y: int
    opacity: float
    visible: bool
    kind: LayerKind
    selected: bool


def read_ora(path: Path) -> OraDocument:
    """The layers of the .ora file `path`; OraError with a message when it cannot be used."""
    path = Path(path)
    name = path.name or str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _read(zf, name)
    except OraError:
        raise
    except FileNotFoundError as exc:
        raise OraError(f"{name} was not found") from exc
    except IsADirectoryError as exc:
        raise OraError(f"{name} is a folder, not an OpenRaster file") from exc
    except (zipfile.BadZipFile, EOFError) as exc:
        raise OraError(f"{name} is not an OpenRaster file (not a zip archive)") from exc
    except (OSError, ValueError, RuntimeError, NotImplementedError) as exc:  # damaged, encrypted
        raise OraError(f"{name} could not be read: {' '.join(str(exc).split())}") from exc


def _read(zf: zipfile.ZipFile, name: str) -> OraDocument:
    infos = {i.filename: i for i in zf.infolist()}
    if "stack.xml" not in infos:
        raise OraError(f"{name} is not an OpenRaster file (it has no stack.xml)")
    root = _parse_xml(_read_entry(zf, infos["stack.xml"], MAX_XML_BYTES, name), name)
    w, h = _int_attr(root, "w", name), _int_attr(root, "h", name)
    limit = Image.MAX_IMAGE_PIXELS or 0
    if w < 1 or h < 1 or (limit and w * h > limit):
        raise OraError(f"{name} has a canvas of {w}x{h} pixels; Studio opens up to {limit / 1e6:.0f} million")
    stack = root.find("stack")
    if stack is None:
        raise OraError(f"{name} has no layer stack")
    entries = list(_entries(stack, name, 1.0, True))
    if not entries:
        raise OraError(f"{name} has no layers")
    if len(entries) > MAX_LAYERS:
        raise OraError(f"{name} has {len(entries)} layers; Studio opens up to {MAX_LAYERS}")
    layers = [_layer(zf, infos, e, (w, h), name) for e in reversed(entries)]  # bottom first
    selected = [i for i, e in enumerate(reversed(entries)) if e.selected]
    return OraDocument((w, h), layers, selected[0] if selected else len(layers) - 1)


def _parse_xml(data: bytes, name: str) -> ET.Element:
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise OraError(f"{name}: stack.xml declares entities, which Studio does not read")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise OraError(f"{name}: stack.xml is not valid XML ({exc})") from exc


def _entries(stack: ET.Element, name: str, opacity: float, visible: bool) -> Iterator[_Entry]:
    """The layers of `stack`, top first, with nested stacks' opacity and visibility applied."""
    for child in stack:
        child_opacity = opacity * _float_attr(child, "opacity", 1.0)
        child_visible = visible and child.get("visibility", "visible") != "hidden"
        if child.tag == "stack":
            yield from _entries(child, name, child_opacity, child_visible)
        elif child.tag == "layer":
            src = child.get("src")
            if not src:
                raise OraError(f"{name}: a layer has no src")
            kind = child.get(f"{{{STUDIO_NS}}}kind", LayerKind.IMAGE.value)
            yield _Entry(
                child.get("name") or Path(src).stem,
                src,
                int(_float_attr(child, "x", 0.0)),
                int(_float_attr(child, "y", 0.0)),
                min(1.0, max(0.0, child_opacity)),
                child_visible,
                LayerKind(kind) if kind in LayerKind._value2member_map_ else LayerKind.IMAGE,
                child.get("selected") == "true",
            )


def _layer(
    zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], entry: _Entry, size: tuple[int, int], name: str
) -> Layer:
    info = infos.get(entry.src)
    if info is None:
        raise OraError(f"{name}: stack.xml names {entry.src}, which is not in the file")
    w, h = size
    data = _read_entry(zf, info, _png_byte_limit(w, h), name)
    rgba = _decode_png(data, f"{name}: {entry.src}", max_pixels=4 * w * h)
    full = np.zeros((h, w, 4), np.uint8)
    lh, lw = rgba.shape[:2]
    left, top = max(0, entry.x), max(0, entry.y)
    right, bottom = min(w, entry.x + lw), min(h, entry.y + lh)
    if right > left and bottom > top:
        full[top:bottom, left:right] = rgba[
            top - entry.y : bottom - entry.y, left - entry.x : right - entry.x
        ]
    layer = Layer.from_rgba(entry.name, full, entry.kind)
    layer.visible, layer.opacity = entry.visible, entry.opacity
    return layer


def _png_byte_limit(w: int, h: int) -> int:
    """A layer PNG is never larger than its raw pixels plus PNG overhead (else: refused unread)."""
    return w * h * 4 + h * 8 + 64 * 1024


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    if info.file_size > limit:
        raise OraError(
            f"{name}: {info.filename} is {info.file_size / 1e6:.0f} MB unpacked, too large to read"
        )
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OraError(f"{name}: {info.filename} unpacks to more than its stated size")
    return data


def _decode_png(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    """Straight RGBA pixels of a layer image, refusing decompression bombs, images far larger than
    the canvas (checked from the header, before decoding) and non-images."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > max_pixels:
                    raise OraError(f"{what} is {im.width}x{im.height}, far larger than the canvas")
                im.load()
                return np.asarray(im.convert("RGBA")).copy()
    except OraError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise OraError(f"{what} is too large to open safely") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise OraError(f"{what} is not an image Studio can read") from exc


def _int_attr(el: ET.Element, key: str, name: str) -> int:
    try:
        return int(el.get(key, ""))
    except ValueError as exc:
        raise OraError(f"{name}: stack.xml has no valid {key} on <{el.tag}>") from exc


def _float_attr(el: ET.Element, key: str, default: float) -> float:
    try:
        value = float(el.get(key, default))
    except ValueError:
        return default
    return value if np.isfinite(value) else default
