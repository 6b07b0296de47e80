"""The canvas document: an RGB image and an "L" mask as numpy arrays, with a memory-bounded undo stack.

Pure Python + numpy + Pillow. Edits store only what they touched: a stroke or a mask operation keeps
the before/after patches of its dirty rectangle; an applied result keeps the patch of the pixels that
changed; a canvas resize keeps both whole states. The stack drops its oldest edits once the total
exceeds `max_bytes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from studio.core.fileio import atomic_write_bytes
from studio.core.images import open_image, to_8bit

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), document pixels
DEFAULT_UNDO_BYTES = 512 * 1024 * 1024
OPEN_FILTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def union_rect(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def clip_rect(r: Rect, width: int, height: int) -> Rect | None:
    left, top = max(0, r[0]), max(0, r[1])
    right, bottom = min(width, r[2]), min(height, r[3])
    if right <= left or bottom <= top:
        return None
    return (left, top, right, bottom)


@dataclass
class Edit:
    """Before/after pixels of one edit. `rect` None means whole arrays (the canvas size changed)."""

    label: str
    rect: Rect | None
    image_before: np.ndarray | None
    image_after: np.ndarray | None
    mask_before: np.ndarray | None
    mask_after: np.ndarray | None

    @property
    def nbytes(self) -> int:
        arrays = (self.image_before, self.image_after, self.mask_before, self.mask_after)
        return sum(a.nbytes for a in arrays if a is not None)


class UndoStack:
    """Undo/redo lists with a byte budget; the oldest undo entries are dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_UNDO_BYTES) -> None:
        self.max_bytes = max_bytes
        self.undo_list: list[Edit] = []
        self.redo_list: list[Edit] = []

    @property
    def nbytes(self) -> int:
        return sum(e.nbytes for e in self.undo_list) + sum(e.nbytes for e in self.redo_list)

    def push(self, edit: Edit) -> None:
        self.undo_list.append(edit)
        self.redo_list.clear()
        total = self.nbytes
        while len(self.undo_list) > 1 and total > self.max_bytes:
            dropped = self.undo_list.pop(0)
            total -= dropped.nbytes
            log.debug("Undo budget: dropped %r (%d bytes)", dropped.label, dropped.nbytes)

    def pop_undo(self) -> Edit | None:
        return _move_last(self.undo_list, self.redo_list)

    def pop_redo(self) -> Edit | None:
        return _move_last(self.redo_list, self.undo_list)

    def can_undo(self) -> bool:
        return bool(self.undo_list)

    def can_redo(self) -> bool:
        return bool(self.redo_list)

    def undo_label(self) -> str:
        return self.undo_list[-1].label if self.undo_list else ""

    def redo_label(self) -> str:
        return self.redo_list[-1].label if self.redo_list else ""

    def __len__(self) -> int:
        return len(self.undo_list)


def _move_last(src: list[Edit], dst: list[Edit]) -> Edit | None:
    if not src:
        return None
    dst.append(src.pop())
    return dst[-1]


class Document:
    """Image HxWx3 uint8 + mask HxW uint8 (255 = repaint). Listeners get the changed rect (or None)."""

    def __init__(
        self,
        image: np.ndarray,
        mask: np.ndarray | None = None,
        *,
        path: Path | None = None,
        max_undo_bytes: int = DEFAULT_UNDO_BYTES,
    ) -> None:
        self.image = np.ascontiguousarray(image, dtype=np.uint8)
        h, w = self.image.shape[:2]
        self.mask = np.zeros((h, w), np.uint8) if mask is None else np.ascontiguousarray(mask, np.uint8)
        if self.image.shape != (h, w, 3) or self.mask.shape != (h, w):
            raise ValueError(f"Image must be HxWx3 and mask HxW; got {image.shape} and {self.mask.shape}.")
        self.path = path
        self.undo_stack = UndoStack(max_undo_bytes)
        self.version = 0
        self.saved_version = 0
        self._listeners: list[Callable[[Rect | None], None]] = []
        self._stroke_backup: np.ndarray | None = None
        self._stroke_rect: Rect | None = None
        self.last_change = (True, True)  # (image, mask) changed in the latest notify
        self.image_version = 0  # counts image changes only (autosave skips unchanged images)

    # construction ---------------------------------------------------------------------------------
    @classmethod
    def blank(cls, width: int, height: int, color: tuple[int, int, int] = (255, 255, 255)) -> Document:
        image = np.empty((height, width, 3), np.uint8)
        image[:] = color
        return cls(image)

    @classmethod
    def from_pil(cls, img: Image.Image, path: Path | None = None) -> Document:
        return cls(np.asarray(to_8bit(img).convert("RGB")).copy(), path=path)

    @classmethod
    def open(cls, path: Path) -> Document:
        """The image in `path`; ImageReadError (a ValueError) with a message when it is unusable."""
        img = open_image(path)
        upright = ImageOps.exif_transpose(img)  # photos: the way the camera held them
        return cls.from_pil(_flatten_alpha(upright), Path(path))

    # properties -----------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def dirty(self) -> bool:
        return self.version != self.saved_version

    def image_pil(self) -> Image.Image:
        return Image.fromarray(self.image, "RGB")

    def mask_pil(self) -> Image.Image:
        return Image.fromarray(self.mask, "L")

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    # listeners ------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Rect | None], None]) -> None:
        if fn not in self._listeners:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Rect | None], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def notify(self, rect: Rect | None, *, image: bool = True, mask: bool = True) -> None:
        """Tell listeners what changed: a rect, or None for "everything, maybe the size too".

        `last_change` says which arrays changed, so a view refreshes only those."""
        self.version += 1
        self.image_version += image
        self.last_change = (image, mask)
        for fn in list(self._listeners):
            fn(rect)

    # strokes: paint into self.mask directly, then record one edit ---------------------------------
    def begin_stroke(self) -> None:
        self._stroke_backup = self.mask.copy()
        self._stroke_rect = None

    def stroke_touched(self, rect: Rect | None) -> None:
        """Called by the painter after it changed `rect` of the mask during a stroke."""
        if rect is None:
            return
        self._stroke_rect = union_rect(self._stroke_rect, rect)
        self.notify(rect, image=False)

    def end_stroke(self, label: str = "Brush stroke") -> None:
        backup, rect = self._stroke_backup, self._stroke_rect
        self._stroke_backup = self._stroke_rect = None
        if backup is None or rect is None:
            return
        sl = _slices(rect)
        if np.array_equal(backup[sl], self.mask[sl]):
            return
        self.undo_stack.push(Edit(label, rect, None, None, backup[sl].copy(), self.mask[sl].copy()))
        self.notify(rect, image=False, mask=False)  # pixels were announced already; the history changed

    # whole-mask and region edits ------------------------------------------------------------------
    def set_mask_region(self, rect: Rect, values: np.ndarray, label: str) -> None:
        """Replace mask[rect] with `values` as one undoable edit."""
        clipped = clip_rect(rect, self.width, self.height)
        if clipped is None:
            return
        if clipped != rect:
            raise ValueError(f"Rect {rect} is outside the {self.width}x{self.height} canvas.")
        sl = _slices(rect)
        before = self.mask[sl].copy()
        if np.array_equal(before, values):
            return
        self.mask[sl] = values
        self.undo_stack.push(Edit(label, rect, None, None, before, self.mask[sl].copy()))
        self.notify(rect, image=False)

    def set_mask(self, mask: np.ndarray, label: str) -> None:
        if mask.shape != self.mask.shape:
            raise ValueError(
                f"Mask is {mask.shape[1]}x{mask.shape[0]}, canvas is {self.width}x{self.height}."
            )
        diff = _changed_bbox(self.mask, mask)
        if diff is not None:
            self.set_mask_region(diff, mask[_slices(diff)], label)

    def invert_mask(self) -> None:
        self.set_mask(255 - self.mask, "Invert mask")

    def clear_mask(self) -> None:
        self.set_mask(np.zeros_like(self.mask), "Clear mask")

    def fill_mask(self) -> None:
        self.set_mask(np.full_like(self.mask, 255), "Fill mask")

    def apply_image(self, image: np.ndarray, label: str = "Apply result") -> Rect | None:
        """Make `image` (same size) the document image; stores only the changed rect. Exact, no resampling."""
        if image.shape != self.image.shape:
            raise ValueError(
                f"Result is {image.shape[1]}x{image.shape[0]}, canvas is {self.width}x{self.height}."
            )
        rect = _changed_bbox(self.image, image)
        if rect is None:
            return None
        sl = _slices(rect)
        before = self.image[sl].copy()
        self.image[sl] = image[sl]
        self.undo_stack.push(Edit(label, rect, before, self.image[sl].copy(), None, None))
        self.notify(rect, mask=False)
        return rect

    def replace_all(self, image: np.ndarray, mask: np.ndarray, label: str) -> None:
        """Replace both arrays, any size (canvas resize, outpaint accept) as one undoable edit."""
        image = np.ascontiguousarray(image, np.uint8)
        mask = np.ascontiguousarray(mask, np.uint8)
        if image.shape[:2] != mask.shape or image.ndim != 3:
            raise ValueError("Image and mask sizes differ.")
        edit = Edit(label, None, self.image, image.copy(), self.mask, mask.copy())
        self.image, self.mask = image, mask
        self.undo_stack.push(edit)
        self.notify(None)

    def extend(
        self,
        left: int,
        top: int,
        right: int,
        bottom: int,
        image: np.ndarray | None = None,
        label: str = "Resize canvas",
    ) -> None:
        """Grow (negative amounts crop) the canvas as one undoable edit; the mask moves with it.

        Without `image` the new area is white and the old pixels are copied exactly; with `image`
        (an outpaint result, already composited by the engine) that image becomes the canvas as is.
        """
        new_w, new_h = self.width + left + right, self.height + top + bottom
        if new_w < 1 or new_h < 1:
            raise ValueError(f"The canvas would be {new_w}x{new_h}; it must keep at least one pixel.")
        new_image = np.full((new_h, new_w, 3), 255, np.uint8) if image is None else image.copy()
        if new_image.shape != (new_h, new_w, 3):
            got = f"{new_image.shape[1]}x{new_image.shape[0]}"
            raise ValueError(f"Result is {got}, expected {new_w}x{new_h}.")
        new_mask = np.zeros((new_h, new_w), np.uint8)
        src = clip_rect((-left, -top, new_w - left, new_h - top), self.width, self.height)
        if src is not None:
            dst = _slices((src[0] + left, src[1] + top, src[2] + left, src[3] + top))
            new_mask[dst] = self.mask[_slices(src)]
            if image is None:
                new_image[dst] = self.image[_slices(src)]
        self.replace_all(new_image, new_mask, label)

    # undo / redo ----------------------------------------------------------------------------------
    def undo(self) -> bool:
        edit = self.undo_stack.pop_undo()
        if edit is None:
            return False
        self._restore(edit, before=True)
        return True

    def redo(self) -> bool:
        edit = self.undo_stack.pop_redo()
        if edit is None:
            return False
        self._restore(edit, before=False)
        return True

    def _restore(self, edit: Edit, *, before: bool) -> None:
        image = edit.image_before if before else edit.image_after
        mask = edit.mask_before if before else edit.mask_after
        if edit.rect is None:
            self.image, self.mask = image.copy(), mask.copy()  # type: ignore[union-attr]
            self.notify(None)
            return
        sl = _slices(edit.rect)
        if image is not None:
            self.image[sl] = image
        if mask is not None:
            self.mask[sl] = mask
        self.notify(edit.rect, image=image is not None, mask=mask is not None)

    # files ----------------------------------------------------------------------------------------
    def save_image(self, path: Path) -> Path:
        path = Path(path)
        atomic_write_bytes(path, encode_image(self.image_pil(), path.suffix))
        self.path = path
        self.saved_version = self.version
        return path

    def save_mask(self, path: Path) -> Path:
        atomic_write_bytes(Path(path), encode_image(self.mask_pil(), ".png"))
        return Path(path)

    def load_mask(self, path: Path) -> None:
        with open_image(path) as img:
            mask = to_8bit(img).convert("L")
            if mask.size != self.size:
                mw, mh = mask.size
                raise ValueError(f"The mask is {mw}x{mh} but the canvas is {self.width}x{self.height}.")
            self.set_mask(np.asarray(mask).copy(), "Load mask")


def encode_image(img: Image.Image, suffix: str, png_level: int = 6) -> bytes:
    import io

    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(suffix.lower(), "PNG")
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, fmt, quality=95)
    elif fmt == "WEBP":
        img.save(buf, fmt, lossless=True)
    else:
        img.save(buf, fmt, compress_level=png_level)
    return buf.getvalue()


def _flatten_alpha(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB")


def _slices(rect: Rect) -> tuple[slice, slice]:
    return slice(rect[1], rect[3]), slice(rect[0], rect[2])


def _changed_bbox(a: np.ndarray, b: np.ndarray) -> Rect | None:
    diff = a != b
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
