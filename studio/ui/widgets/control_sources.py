"""Where a control unit's image comes from, and its small preview (issue 14).

A unit's `image_name` names its source: an image file's path, a canvas layer's name, or `FLATTENED`
(the canvas's visible layers flattened). The canvas lends its document through `CanvasImages`; the
Generate tab has none (files only). Images are read when a job is submitted (`with_images`): a layer
gives its pixels as they are at that moment, a file is opened then. A source that cannot be read
raises `ControlImageError` with a message for the artist; nothing in the panel changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageOps

from studio.core.control import ControlKind, ControlUnit
from studio.core.control_images import control_map
from studio.core.images import ImageReadError, open_image

FLATTENED = "(flattened canvas)"  # image_name of "the canvas, flattened"
PREVIEW_SIDE = 256  # the source is scaled to this before its map is made for the thumbnail


class ControlImageError(ValueError):
    """A unit's image cannot be read; the message names the unit and says what to do."""


class CanvasImages(Protocol):
    """The canvas's pictures a unit can use (its layers by name, and the flattened image)."""

    def layer_names(self) -> list[str]: ...

    def layer_image(self, name: str) -> Image.Image | None: ...

    def flattened(self) -> Image.Image: ...


def source_label(image_name: str, canvas: CanvasImages | None) -> str:
    """How a source is shown in the source list."""
    if image_name == FLATTENED:
        return "Canvas (flattened)"
    if canvas is not None and image_name in canvas.layer_names():
        return f"Layer: {image_name}"
    if canvas is not None and image_name and not Path(image_name).is_absolute():
        return f"Layer: {image_name} (not on the canvas)"
    return f"File: {Path(image_name).name}" if image_name else "No image"


def is_usable_source(image_name: str, canvas: CanvasImages | None) -> bool:
    """Whether `image_name` names something there is now (a file, or the canvas and its layers)."""
    if not image_name:
        return False
    if canvas is not None and (image_name == FLATTENED or image_name in canvas.layer_names()):
        return True
    return image_name != FLATTENED and Path(image_name).is_file()


def source_image(image_name: str, canvas: CanvasImages | None) -> Image.Image:
    """The source's pixels now; ImageReadError (a ValueError) says why they cannot be had."""
    if canvas is not None:
        if image_name == FLATTENED:
            return canvas.flattened()
        layer = canvas.layer_image(image_name)
        if layer is not None:
            return layer
    if image_name == FLATTENED:
        raise ImageReadError("the flattened canvas is only there on the canvas tab")
    if not image_name:
        raise ImageReadError("no image is chosen")
    if canvas is not None and not Path(image_name).is_absolute():
        raise ImageReadError(f"the canvas has no layer named {image_name!r} any more")
    return open_image(Path(image_name))


def with_images(units: Sequence[ControlUnit], canvas: CanvasImages | None) -> tuple[ControlUnit, ...]:
    """The units with their images read now. A unit with no source stays without an image (the
    engine's check then says "has no image: choose a layer or an image file"); a source that is set
    but unreadable raises ControlImageError."""
    out = []
    for index, unit in enumerate(units):
        label = f"Control {index + 1} ({unit.kind.label})"
        image = _read(unit.image_name, canvas, f"{label}: its image", "a layer or an image file")
        mask = _read(
            unit.mask_name, canvas, f"{label}: its region", "another layer or mask file, or Everywhere"
        )
        out.append(unit.replace(image=image, mask=None if mask is None else region_mask(mask)))
    return tuple(out)


def _read(name: str, canvas: CanvasImages | None, what: str, instead: str) -> Image.Image | None:
    if not name:
        return None
    try:
        return source_image(name, canvas)
    except ImageReadError as exc:
        raise ControlImageError(f"{what} could not be read ({exc}). Choose {instead} for it.") from exc


def region_mask(image: Image.Image) -> Image.Image:
    """An IP-Adapter's region ("L", white = the reference acts): a layer's painted pixels (its alpha),
    or a mask picture's brightness."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA").getchannel("A")
    return image.convert("L")


def preview_map(unit: ControlUnit, image: Image.Image) -> Image.Image:
    """What the unit's model will see, small: the preprocessed map (an IP-Adapter: the picture)."""
    small = image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    if unit.kind is ControlKind.IP_ADAPTER:
        return small.convert("RGB")
    return control_map(small, unit.preprocessor, unit.low_threshold, unit.high_threshold)


INSET_FRACTION = 0.34  # an inset's longer side, of the result's shorter side
INSET_BORDER = 2


def with_control_insets(result: Image.Image, units: Sequence[ControlUnit]) -> Image.Image:
    """A copy of `result` with each unit's map (IP-Adapter: its reference) inset along the bottom,
    left to right, white-framed: the job's control images shown with it in the history."""
    maps = [preview_map(unit, unit.image) for unit in units if unit.image is not None]
    if not maps:
        return result
    out = result.convert("RGB")
    side = max(8, int(min(out.size) * INSET_FRACTION))
    x = 0
    for image in maps:
        inset = ImageOps.contain(image.convert("RGB"), (side, side), Image.Resampling.LANCZOS)
        frame = ImageOps.expand(inset, INSET_BORDER, fill=(255, 255, 255))
        if x + frame.width > out.width:
            break
        out.paste(frame, (x, out.height - frame.height))
        x += frame.width
    return out


def describe_controls(units: Sequence[ControlUnit]) -> str:
    """One line per unit, with where its image came from (history tooltips)."""
    return "\n".join(
        f"{unit.describe()} · {_origin(unit.image_name)}"
        + (f" · region {_origin(unit.mask_name)}" if unit.mask_name else "")
        for unit in units
    )


def _origin(image_name: str) -> str:
    if image_name == FLATTENED:
        return "Canvas (flattened)"
    if not image_name:
        return "no image"
    path = Path(image_name)
    return f"File: {path.name}" if path.is_absolute() else f"Layer: {image_name}"
