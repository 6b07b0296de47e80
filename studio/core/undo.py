"""Undo for the canvas document: the edits it records and a stack with a byte budget.

`PatchEdit` keeps the before/after pixels of one rectangle of the mask (or a layer); `TileEdit` those
of the 128 px tiles a layer stroke changed (`StrokeBackup` saves them lazily, just before the stroke
first touches each); `StackEdit` keeps the layer objects and properties before and after a change of
the stack, never copies of pixels that stay in the document. Pure numpy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from studio.core.layers import Layer, LayerProps, Rect, intersect_rect, slices

log = logging.getLogger(__name__)
DEFAULT_UNDO_BYTES = 512 * 1024 * 1024
BACKUP_TILE = 128  # layer strokes back up the pixels they touch tile by tile (no full copy on press)


@dataclass
class PatchEdit:
    """Before/after pixels of `rect` in one layer (`target`) or, with `target` None, in the mask."""

    label: str
    rect: Rect
    target: Layer | None
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)


@dataclass(frozen=True)
class StackState:
    """The layer objects (bottom first) with their properties, the active index and the mask."""

    layers: tuple[Layer, ...]
    props: tuple[LayerProps, ...]
    active: int
    mask: np.ndarray


@dataclass
class StackEdit:
    """A change of the layer stack. `rect` is what it changes in the flattened image (None: all of
    it, maybe the size). `coalesce` lets a run of the same edit (an opacity slider drag) be one step."""

    label: str
    before: StackState
    after: StackState
    rect: Rect | None
    coalesce: str = ""
    pixels: bool = True  # False: only names/selection changed, not the flattened image

    @property
    def nbytes(self) -> int:
        """Bytes this edit alone keeps alive: layers and masks found on one side only."""
        a, b = {id(x): x for x in self.before.layers}, {id(x): x for x in self.after.layers}
        only = [x for k, x in a.items() if k not in b] + [x for k, x in b.items() if k not in a]
        masks = 0 if self.before.mask is self.after.mask else self.before.mask.nbytes + self.after.mask.nbytes
        return sum(x.nbytes for x in only) + int(masks)


@dataclass
class TileEdit:
    """A layer stroke: before/after pixels of each tile it touched (a long curved stroke keeps only
    what it painted, not its whole bounding box). `rect` bounds them all (what to redraw)."""

    label: str
    rect: Rect
    target: Layer
    tiles: list[tuple[Rect, np.ndarray, np.ndarray]]  # (tile rect, before, after)

    @property
    def nbytes(self) -> int:
        return sum(int(b.nbytes + a.nbytes) for _, b, a in self.tiles)


Edit = PatchEdit | TileEdit | StackEdit


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


class StrokeBackup:
    """The pixels of a layer as they were when a stroke began, saved tile by tile just before the
    stroke first touches them (a 4096x4096 layer is 64 MB: copying it on every press would cost a
    frame)."""

    def __init__(self, pixels: np.ndarray, tile: int = BACKUP_TILE) -> None:
        self.pixels, self.tile = pixels, tile
        self.saved_pixels = np.empty_like(pixels)  # untouched pages cost no memory
        h, w = pixels.shape[:2]
        self.saved = np.zeros(((h + tile - 1) // tile, (w + tile - 1) // tile), bool)

    def _tiles(self, rect: Rect) -> tuple[slice, slice]:
        t = self.tile
        return slice(rect[1] // t, (rect[3] + t - 1) // t), slice(rect[0] // t, (rect[2] + t - 1) // t)

    def save(self, rect: Rect) -> None:
        """Save the tiles of `rect` not saved yet (call before changing pixels in `rect`)."""
        ty, tx = self._tiles(rect)
        todo = ~self.saved[ty, tx]
        if not todo.any():
            return
        t = self.tile
        for row, col in zip(*np.nonzero(todo), strict=True):
            sl = _tile_slices(ty.start + int(row), tx.start + int(col), t)
            self.saved_pixels[sl] = self.pixels[sl]
        self.saved[ty, tx] = True

    def tiles(self) -> list[tuple[Rect, np.ndarray, np.ndarray]]:
        """(tile rect, pixels before the stroke, pixels now) of every tile the stroke changed."""
        h, w = self.pixels.shape[:2]
        out = []
        for row, col in zip(*np.nonzero(self.saved), strict=True):
            rect = intersect_rect(_tile_rect(int(row), int(col), self.tile), (0, 0, w, h))
            if rect is None:
                continue
            sl = slices(rect)
            if not np.array_equal(self.saved_pixels[sl], self.pixels[sl]):
                out.append((rect, self.saved_pixels[sl].copy(), self.pixels[sl].copy()))
        return out


def _tile_rect(row: int, col: int, t: int) -> Rect:
    return (col * t, row * t, (col + 1) * t, (row + 1) * t)


def _tile_slices(row: int, col: int, t: int) -> tuple[slice, slice]:
    return slice(row * t, (row + 1) * t), slice(col * t, (col + 1) * t)
