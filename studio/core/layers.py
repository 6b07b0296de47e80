"""Layers of the canvas document and their compositing, in numpy (no Qt).

Pixels: an HxWx4 uint8 array per layer, channels B, G, R, A with the colour premultiplied by alpha.
That is the memory layout of Qt's `ARGB32_Premultiplied` on little-endian machines, so the canvas view
draws a layer straight from its array (no copy, no conversion per stroke), and painting and
compositing are plain linear blends of all four channels. Files hold straight (unpremultiplied) RGBA;
`premultiply` and `unpremultiply` convert, and `premultiply(unpremultiply(p)) == p` for every valid
premultiplied pixel, so a document saved and opened again has exactly the same pixels.

The flattened image is the visible layers, bottom to top, over white ("source over" with each
layer's opacity); transparent areas are white, in the view as in every export. The view draws the
same composite with QPainter; the two agree within rounding (one level).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from PIL import Image, ImageChops

Rect = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), document pixels
BACKGROUND = (255, 255, 255)  # what shows through transparent areas (R, G, B)


class LayerKind(str, Enum):
    """What a layer holds (shown in the Layers panel, kept in .ora files)."""

    IMAGE = "image"  # an opened, pasted or flattened picture
    PAINT = "paint"  # the artist's colour strokes
    RESULT = "result"  # an accepted inpaint/outpaint result: the pixels it changed


@dataclass(frozen=True)
class LayerProps:
    """The properties of a layer that undo restores together (not its pixels)."""

    name: str
    visible: bool
    opacity: float
    kind: LayerKind


@dataclass(eq=False)
class Layer:
    """One layer: premultiplied BGRA pixels (the document's size) and its properties.

    `bounds` is a rectangle that holds every pixel with alpha > 0 (it may be larger, never smaller;
    None: the layer is empty); compositing and saving skip what lies outside it. `version` counts
    pixel changes (autosave writes only the layers that changed). `uid` names the layer in autosaves.
    """

    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    kind: LayerKind = LayerKind.PAINT
    bounds: Rect | None = None
    version: int = 0
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    # construction ---------------------------------------------------------------------------------
    @classmethod
    def empty(cls, name: str, width: int, height: int, kind: LayerKind = LayerKind.PAINT) -> Layer:
        return cls(name, np.zeros((height, width, 4), np.uint8), kind=kind)

    @classmethod
    def from_rgb(cls, name: str, rgb: np.ndarray, kind: LayerKind = LayerKind.IMAGE) -> Layer:
        """An opaque layer from an HxWx3 RGB array."""
        h, w = rgb.shape[:2]
        pixels = np.empty((h, w, 4), np.uint8)
        pixels[..., :3] = rgb[..., ::-1]
        pixels[..., 3] = 255
        return cls(name, pixels, kind=kind, bounds=(0, 0, w, h) if w and h else None)

    @classmethod
    def from_rgba(cls, name: str, rgba: np.ndarray, kind: LayerKind = LayerKind.IMAGE) -> Layer:
        """A layer from an HxWx4 straight-alpha RGBA array (a file's pixels)."""
        pixels = premultiply(rgba)
        return cls(name, pixels, kind=kind, bounds=alpha_bounds(pixels))

    def copy(self, name: str | None = None) -> Layer:
        return Layer(
            self.name if name is None else name,
            self.pixels.copy(),
            self.visible,
            self.opacity,
            self.kind,
            self.bounds,
        )

    # properties -----------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.pixels.nbytes)

    @property
    def props(self) -> LayerProps:
        return LayerProps(self.name, self.visible, self.opacity, self.kind)

    def set_props(self, props: LayerProps) -> None:
        self.name, self.visible, self.opacity, self.kind = (
            props.name,
            props.visible,
            props.opacity,
            props.kind,
        )

    @property
    def shows(self) -> bool:
        """Whether the layer adds anything to the flattened image."""
        return self.visible and self.opacity > 0 and self.bounds is not None

    def touched(self, rect: Rect) -> None:
        """Pixels in `rect` changed: grow the bounds, count a new version."""
        self.bounds = union_rect(self.bounds, rect)
        self.version += 1

    def rgba(self) -> np.ndarray:
        """Straight-alpha RGBA (HxWx4 uint8), as files hold it."""
        return unpremultiply(self.pixels)


# pixel formats ------------------------------------------------------------------------------------
def div255(x: np.ndarray) -> np.ndarray:
    """round(x / 255) for integer arrays with 0 <= x <= 255 * 255 (exact, no floats)."""
    x = x + 128
    return (x + (x >> 8)) >> 8


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """Straight RGBA (HxWx4 uint8) -> premultiplied BGRA."""
    alpha = rgba[..., 3:4].astype(np.uint16)
    out = np.empty(rgba.shape, np.uint8)
    out[..., :3] = div255(rgba[..., 2::-1].astype(np.uint16) * alpha)
    out[..., 3] = rgba[..., 3]
    return out


def unpremultiply(pixels: np.ndarray) -> np.ndarray:
    """Premultiplied BGRA -> straight RGBA; colour under alpha 0 is black."""
    alpha = pixels[..., 3:4].astype(np.uint32)
    colour = pixels[..., 2::-1].astype(np.uint32) * 255 + alpha // 2
    out = np.empty(pixels.shape, np.uint8)
    safe = np.maximum(alpha, 1)
    out[..., :3] = np.minimum(colour // safe, 255) * (alpha > 0)
    out[..., 3] = pixels[..., 3]
    return out


def alpha_bounds(pixels: np.ndarray) -> Rect | None:
    """The smallest rect holding every pixel with alpha > 0, or None."""
    alpha = pixels[..., 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(alpha.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def colour_pixel(rgb: tuple[int, int, int]) -> np.ndarray:
    """An opaque colour as a premultiplied BGRA pixel (4 uint8)."""
    r, g, b = (int(c) for c in rgb)
    return np.array([b, g, r, 255], np.uint8)


# rectangles ---------------------------------------------------------------------------------------
def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def intersect_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None or b is None:
        return None
    left, top, right, bottom = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    if right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


def slices(rect: Rect) -> tuple[slice, slice]:
    return slice(rect[1], rect[3]), slice(rect[0], rect[2])


# compositing --------------------------------------------------------------------------------------
def flatten(layers: list[Layer], rect: Rect, background: tuple[int, int, int] = BACKGROUND) -> np.ndarray:
    """The visible `layers` (bottom first) composited over `background` in `rect`: RGB uint8.

    Premultiplied "source over" (dst * (1 - a) + src, each layer's opacity applied to all four of its
    channels), each step rounded exactly, done with Pillow's C passes on 4-channel images without
    alpha rules ("CMYK"): several times faster than numpy here. Only the part of each layer inside its
    bounds is blended, so small paint layers cost little.
    """
    left, top, right, bottom = rect
    acc = Image.new("CMYK", (right - left, bottom - top), (*background[::-1], 255))  # B, G, R, A
    for layer in layers:
        part = intersect_rect(layer.bounds, rect) if layer.shows else None
        if part is None:
            continue
        src = _four_channels(layer.pixels[slices(part)])
        if layer.opacity < 1.0:  # src * opacity: a lerp toward zero by (1 - opacity)
            src.paste((0, 0, 0, 0), None, Image.new("L", src.size, round((1.0 - layer.opacity) * 255)))
        box = (part[0] - left, part[1] - top, part[2] - left, part[3] - top)
        dst = acc.crop(box)
        dst.paste((0, 0, 0, 0), None, src.getchannel(3))  # dst * (1 - a)
        acc.paste(ImageChops.add(dst, src), box)
    return np.asarray(acc)[..., 2::-1].copy()


def _four_channels(pixels: np.ndarray) -> Image.Image:
    """A writable Pillow copy of BGRA pixels as a 4-channel image without alpha rules."""
    h, w = pixels.shape[:2]
    return Image.frombuffer("CMYK", (w, h), np.ascontiguousarray(pixels), "raw", "CMYK", 0, 1).copy()


def over(upper: Layer, lower: Layer) -> np.ndarray:
    """`upper` composited onto `lower` as one premultiplied BGRA array (each with its opacity;
    a hidden layer adds nothing). Used to merge a layer down."""
    out = np.zeros_like(lower.pixels, dtype=np.float32)
    for layer in (lower, upper):
        part = layer.bounds if layer.shows else None
        if part is None:
            continue
        px = layer.pixels[slices(part)].astype(np.float32) * np.float32(layer.opacity)
        dst = out[slices(part)]
        dst *= 1.0 - px[..., 3:4] / np.float32(255.0)
        dst += px
    out += np.float32(0.5)
    return out.astype(np.uint8)


def lerp_pixels(before: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per pixel `before + (target - before) * weight / 255`, rounded exactly, on BGRA uint8 arrays.

    `target` is one pixel (4,); `weight` is HxW uint8. Painting a colour with coverage `weight` onto
    premultiplied pixels is exactly this; erasing is a lerp to (0, 0, 0, 0). Done by Pillow's masked
    paste on a 4-channel image without alpha rules ("CMYK"): the same exact rounding in one C pass,
    about 2x faster than numpy's uint16 arithmetic here (bench_canvas.py).
    """
    h, w = weight.shape
    img = _four_channels(before)
    img.paste(
        tuple(int(v) for v in target),
        None,
        Image.frombuffer("L", (w, h), np.ascontiguousarray(weight), "raw", "L", 0, 1),
    )
    return np.asarray(img)
