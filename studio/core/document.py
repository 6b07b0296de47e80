"""The canvas document: a stack of layers, one "L" mask, and a memory-bounded undo stack.

Pure Python + numpy + Pillow. `Document.layers` runs bottom to top (`core.layers.Layer`: premultiplied
BGRA pixels, name, visibility, opacity, kind); `Document.image` is their flattened RGB (over white),
cached and brought up to date one dirty rectangle at a time when read; it is what generation, export
and the eyedropper use. The mask is the document's single inpaint mask (not a layer).

Undo covers every edit (`core.undo`): mask edits keep the before/after patches of their dirty
rectangle, layer strokes those of the 128 px tiles they changed, layer-stack edits (add, delete, move,
merge, flatten, properties, canvas size, accepted results) the stack's layer objects and properties
before and after, never copies of pixels that stay in the document. The stack drops its oldest edits
once the bytes they hold alone exceed `max_bytes`.

For the UI (listeners): `notify(rect)` tells what changed, `last_change` = (composite pixels changed,
mask changed), `last_layers_change` = the stack or a layer's properties changed (the Layers panel
refreshes), `stack_version` counts those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from studio.core.fileio import atomic_write_bytes
from studio.core.images import open_image, to_8bit
from studio.core.layers import (
    Layer,
    LayerKind,
    alpha_bounds,
    flatten,
    intersect_rect,
    over,
    slices,
    union_rect,
)
from studio.core.undo import (
    DEFAULT_UNDO_BYTES,
    Edit,
    PatchEdit,
    StackEdit,
    StackState,
    StrokeBackup,
    TileEdit,
    UndoStack,
)

log = logging.getLogger(__name__)

Rect = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), document pixels
OPEN_FILTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".ora")
FLAT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

__all__ = ["Document", "Layer", "LayerKind", "Rect", "clip_rect", "union_rect"]


def clip_rect(r: Rect, width: int, height: int) -> Rect | None:
    return intersect_rect(r, (0, 0, width, height))


class Document:
    """Layers (bottom first) + mask HxW uint8 (255 = repaint). Listeners get the changed rect (or None).

    `Document(rgb)` holds that image as the layer "Image" and an empty "Paint" layer above it (active);
    `Document(layers=[...])` takes layers as they are (all the same size).
    """

    def __init__(
        self,
        image: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        *,
        layers: list[Layer] | None = None,
        active: int | None = None,
        path: Path | None = None,
        max_undo_bytes: int = DEFAULT_UNDO_BYTES,
    ) -> None:
        self.layers: list[Layer] = _initial_layers(image, layers)
        h, w = self.layers[0].height, self.layers[0].width
        if any(x.pixels.shape != (h, w, 4) for x in self.layers):
            raise ValueError("All layers must have the size of the canvas.")
        self.active_index = (
            len(self.layers) - 1 if active is None else max(0, min(active, len(self.layers) - 1))
        )
        self.mask = np.zeros((h, w), np.uint8) if mask is None else np.ascontiguousarray(mask, np.uint8)
        if self.mask.shape != (h, w):
            raise ValueError(f"The mask must be {w}x{h}; got {self.mask.shape[1]}x{self.mask.shape[0]}.")
        self.path = path
        self.undo_stack = UndoStack(max_undo_bytes)
        self.version = 0
        self.saved_version = 0
        self.stack_version = 0
        self.generation_parameters: Mapping[str, object] | None = None  # of the last accepted result
        self._listeners: list[Callable[[Rect | None], None]] = []
        self._stroke_target: Layer | None = None
        self._stroke_mask_backup: np.ndarray | None = None
        self._stroke_layer_backup: StrokeBackup | None = None
        self._stroke_rect: Rect | None = None
        self._flat = np.empty((h, w, 3), np.uint8)
        self._flat_dirty: Rect | None = (0, 0, w, h)
        self.last_change = (True, True)  # (composite pixels, mask) changed in the latest notify
        self.last_layers_change = True  # the stack or layer properties changed in the latest notify
        self.image_version = 0  # counts composite changes

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
        """The image or OpenRaster document in `path`; a ValueError with a message when it is unusable."""
        path = Path(path)
        if path.suffix.lower() == ".ora":
            from studio.core.ora import read_ora

            found = read_ora(path)
            return cls(layers=found.layers, active=found.active, path=path)
        img = open_image(path)
        upright = ImageOps.exif_transpose(img)  # photos: the way the camera held them
        return cls.from_pil(_flatten_alpha(upright), path)

    # properties -----------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return int(self.mask.shape[1])

    @property
    def height(self) -> int:
        return int(self.mask.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def dirty(self) -> bool:
        return self.version != self.saved_version

    @property
    def image(self) -> np.ndarray:
        """The flattened visible layers, HxWx3 RGB uint8 (read-only view, updated when read)."""
        rect = clip_rect(self._flat_dirty, self.width, self.height) if self._flat_dirty else None
        self._flat_dirty = None
        if rect is not None:
            self._flat[slices(rect)] = flatten(self.layers, rect)
        view = self._flat.view()
        view.flags.writeable = False
        return view

    @property
    def active_layer(self) -> Layer:
        return self.layers[self.active_index]

    def image_pil(self) -> Image.Image:
        return Image.fromarray(self.image, "RGB")

    def mask_pil(self) -> Image.Image:
        return Image.fromarray(self.mask, "L")

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    def composite_pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The flattened colour at (x, y) (the eyedropper); clamped to the canvas."""
        x, y = min(max(0, int(x)), self.width - 1), min(max(0, int(y)), self.height - 1)
        r, g, b = flatten(self.layers, (x, y, x + 1, y + 1))[0, 0]
        return int(r), int(g), int(b)

    def needs_layers_file(self) -> bool:
        """True when a flat image file would lose something: more than one layer with content, or a
        layer with content that is hidden or not fully opaque in its opacity."""
        with_content = [x for x in self.layers if x.bounds is not None]
        return len(with_content) > 1 or any(not x.visible or x.opacity < 1 for x in with_content)

    def index_of(self, layer: Layer) -> int:
        return next(i for i, x in enumerate(self.layers) if x is layer)

    # listeners ------------------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[Rect | None], None]) -> None:
        if fn not in self._listeners:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Rect | None], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def notify(
        self, rect: Rect | None, *, image: bool = True, mask: bool = True, layers: bool = False
    ) -> None:
        """Tell listeners what changed: a rect, or None for "everything, maybe the size too".

        `last_change` says which of (composite, mask) changed, `last_layers_change` whether the
        stack or a layer's properties did, so a listener refreshes only those."""
        self.version += 1
        self.image_version += image
        self.stack_version += layers
        if image:
            self._flat_dirty = union_rect(self._flat_dirty, rect or (0, 0, self.width, self.height))
        self.last_change = (image, mask)
        self.last_layers_change = layers
        for fn in list(self._listeners):
            fn(rect)

    # strokes --------------------------------------------------------------------------------------
    def begin_stroke(self, layer: Layer | None = None) -> None:
        """Start a stroke on `layer` (None: the mask). The painter then changes the pixels directly:
        for a layer, call `stroke_backup(rect)` before changing `rect`; then `stroke_touched(rect)`."""
        self._stroke_target, self._stroke_rect = layer, None
        if layer is None:
            self._stroke_mask_backup = self.mask.copy()
        else:
            self._stroke_layer_backup = StrokeBackup(layer.pixels)

    def stroke_backup(self, rect: Rect) -> np.ndarray:
        """The stroke layer's pixels in `rect` as they were when the stroke began (saving them first)."""
        backup = self._stroke_layer_backup
        if backup is None:
            raise RuntimeError("stroke_backup needs a layer stroke in progress")
        backup.save(rect)
        return backup.saved_pixels[slices(rect)]

    def stroke_touched(self, rect: Rect | None) -> None:
        """Called by the painter after it changed `rect` of the stroke's layer or mask."""
        if rect is None:
            return
        self._stroke_rect = union_rect(self._stroke_rect, rect)
        layer = self._stroke_target
        if layer is None:
            self.notify(rect, image=False)
        else:
            layer.touched(rect)
            self.notify(rect, mask=False)

    def end_stroke(self, label: str = "Brush stroke") -> None:
        layer, rect = self._stroke_target, self._stroke_rect
        mask_backup, layer_backup = self._stroke_mask_backup, self._stroke_layer_backup
        self._stroke_target = self._stroke_rect = None
        self._stroke_mask_backup = self._stroke_layer_backup = None
        if rect is None:
            return
        if layer is not None and layer_backup is not None:
            tiles = layer_backup.tiles()
            if not tiles:
                return
            bounds = tiles[0][0]
            for tile_rect, _, _ in tiles[1:]:
                bounds = union_rect(bounds, tile_rect) or bounds
            self.undo_stack.push(TileEdit(label, bounds, layer, tiles))
        elif layer is None and mask_backup is not None:
            sl = slices(rect)
            before, after = mask_backup[sl].copy(), self.mask[sl].copy()
            if np.array_equal(before, after):
                return
            self.undo_stack.push(PatchEdit(label, rect, None, before, after))
        else:
            return
        self.notify(rect, image=False, mask=False)  # pixels were announced already; the history changed

    @property
    def stroke_in_progress(self) -> bool:
        return self._stroke_mask_backup is not None or self._stroke_layer_backup is not None

    # mask edits -----------------------------------------------------------------------------------
    def set_mask_region(self, rect: Rect, values: np.ndarray, label: str) -> None:
        """Replace mask[rect] with `values` as one undoable edit."""
        clipped = clip_rect(rect, self.width, self.height)
        if clipped is None:
            return
        if clipped != rect:
            raise ValueError(f"Rect {rect} is outside the {self.width}x{self.height} canvas.")
        sl = slices(rect)
        before = self.mask[sl].copy()
        if np.array_equal(before, values):
            return
        self.mask[sl] = values
        self.undo_stack.push(PatchEdit(label, rect, None, before, self.mask[sl].copy()))
        self.notify(rect, image=False)

    def set_mask(self, mask: np.ndarray, label: str) -> None:
        if mask.shape != self.mask.shape:
            raise ValueError(
                f"Mask is {mask.shape[1]}x{mask.shape[0]}, canvas is {self.width}x{self.height}."
            )
        diff = _changed_bbox(self.mask, mask)
        if diff is not None:
            self.set_mask_region(diff, mask[slices(diff)], label)

    def invert_mask(self) -> None:
        self.set_mask(255 - self.mask, "Invert mask")

    def clear_mask(self) -> None:
        self.set_mask(np.zeros_like(self.mask), "Clear mask")

    def fill_mask(self) -> None:
        self.set_mask(np.full_like(self.mask, 255), "Fill mask")

    # layer stack edits (each one undoable step) ---------------------------------------------------
    def _state(self) -> StackState:
        return StackState(
            tuple(self.layers), tuple(x.props for x in self.layers), self.active_index, self.mask
        )

    def _set_state(self, state: StackState) -> None:
        self.layers = list(state.layers)
        for layer, props in zip(state.layers, state.props, strict=True):
            layer.set_props(props)
        self.active_index = state.active
        if state.mask.shape != self.mask.shape:
            h, w = state.mask.shape
            self._flat, self._flat_dirty = np.empty((h, w, 3), np.uint8), (0, 0, w, h)
        self.mask = state.mask

    def _commit(
        self, label: str, before: StackState, rect: Rect | None, *, coalesce: str = "", pixels: bool = True
    ) -> None:
        """Record the change from `before` to the current state as one undo step and announce it.

        `rect`: what changed in the flattened image (None: all of it); `pixels` False: nothing did."""
        after = self._state()
        last = self.undo_stack.undo_list[-1] if self.undo_stack.undo_list else None
        if coalesce and isinstance(last, StackEdit) and last.coalesce == coalesce:
            last.after = after  # the previous step of the same drag grows (nothing to redo: just pushed)
            last.rect = union_rect(last.rect, rect) if rect and last.rect else None
        else:
            self.undo_stack.push(StackEdit(label, before, after, rect, coalesce, pixels))
        self._announce(rect, pixels=pixels, mask=before.mask is not after.mask)

    def seal(self) -> None:
        """The next edit starts a new undo step (a slider released: its run of changes is one step)."""
        last = self.undo_stack.undo_list[-1] if self.undo_stack.undo_list else None
        if isinstance(last, StackEdit):
            last.coalesce = ""

    def _announce(self, rect: Rect | None, *, pixels: bool, mask: bool) -> None:
        if pixels and rect is None:
            self.notify(None, mask=mask, layers=True)
        elif pixels:
            self.notify(rect, mask=mask, layers=True)
        else:
            self.notify(None, image=False, mask=mask, layers=True)

    def _check_index(self, index: int) -> Layer:
        if not 0 <= index < len(self.layers):
            raise IndexError(f"There is no layer {index}; the document has {len(self.layers)}.")
        return self.layers[index]

    def set_active(self, index: int) -> None:
        """Select the layer the colour brush paints on (a selection, not an undo step)."""
        self._check_index(index)
        if index != self.active_index:
            self.active_index = index
            self.notify(None, image=False, mask=False, layers=True)

    def add_layer(
        self,
        name: str | None = None,
        *,
        kind: LayerKind = LayerKind.PAINT,
        layer: Layer | None = None,
        index: int | None = None,
        label: str = "Add layer",
    ) -> Layer:
        """Insert `layer` (default: a new empty one) at `index` (default: above the active layer) and
        make it active."""
        layer = layer or Layer.empty(name or self.unique_name("Paint"), self.width, self.height, kind)
        if layer.pixels.shape != (self.height, self.width, 4):
            raise ValueError(
                f"The layer is {layer.width}x{layer.height}; the canvas is {self.width}x{self.height}."
            )
        before = self._state()
        index = self.active_index + 1 if index is None else max(0, min(index, len(self.layers)))
        self.layers.insert(index, layer)
        self.active_index = index
        self._commit(label, before, layer.bounds, pixels=layer.shows)
        return layer

    def delete_layer(self, index: int) -> None:
        layer = self._check_index(index)
        if len(self.layers) == 1:
            raise ValueError("The document keeps at least one layer.")
        before = self._state()
        del self.layers[index]
        self.active_index = min(max(0, self.active_index - (index < self.active_index)), len(self.layers) - 1)
        self._commit(f"Delete layer {layer.name}", before, layer.bounds, pixels=layer.shows)

    def move_layer(self, index: int, to_index: int) -> None:
        """Move layer `index` to position `to_index` (0 = bottom); the active layer stays selected."""
        layer = self._check_index(index)
        to_index = max(0, min(to_index, len(self.layers) - 1))
        if to_index == index:
            return
        before, active = self._state(), self.active_layer
        self.layers.insert(to_index, self.layers.pop(index))
        self.active_index = self.index_of(active)
        self._commit(f"Move layer {layer.name}", before, layer.bounds, pixels=layer.shows)

    def set_layer_visible(self, index: int, visible: bool) -> None:
        layer = self._check_index(index)
        if layer.visible == visible:
            return
        before = self._state()
        layer.visible = visible
        label = f"{'Show' if visible else 'Hide'} layer {layer.name}"
        self._commit(label, before, layer.bounds, pixels=layer.bounds is not None and layer.opacity > 0)

    def set_layer_opacity(self, index: int, opacity: float) -> None:
        """Opacity 0..1; a run of changes to the same layer is one undo step (a slider drag)."""
        layer = self._check_index(index)
        opacity = float(min(1.0, max(0.0, opacity)))
        if layer.opacity == opacity:
            return
        before = self._state()
        layer.opacity = opacity
        self._commit(
            f"Opacity of {layer.name}",
            before,
            layer.bounds,
            coalesce=f"opacity:{layer.uid}",
            pixels=layer.visible and layer.bounds is not None,
        )

    def rename_layer(self, index: int, name: str) -> None:
        layer = self._check_index(index)
        name = " ".join(name.split())
        if not name or name == layer.name:
            return
        before = self._state()
        layer.name = name
        self._commit(f"Rename layer to {name}", before, None, pixels=False)

    def merge_down(self, index: int) -> None:
        """Merge layer `index` onto the one below as it looks (opacities applied; a hidden one adds
        nothing); the merged layer keeps the lower layer's name and kind."""
        upper = self._check_index(index)
        if index == 0:
            raise ValueError("The bottom layer has no layer below to merge into.")
        lower = self.layers[index - 1]
        merged = Layer(
            lower.name, over(upper, lower), visible=upper.visible or lower.visible, kind=lower.kind
        )
        merged.bounds = alpha_bounds(merged.pixels)
        before = self._state()
        self.layers[index - 1 : index + 1] = [merged]
        self.active_index = index - 1
        rect = union_rect(upper.bounds, lower.bounds)
        self._commit(f"Merge {upper.name} down", before, rect, pixels=rect is not None)

    def flatten(self) -> None:
        """One opaque image layer holding the flattened picture (over white)."""
        before = self._state()
        self.layers = [Layer.from_rgb("Image", self.image)]
        self.active_index = 0
        self._commit("Flatten", before, None)

    def paste_layer(self, rgba: np.ndarray, name: str = "Pasted") -> tuple[Layer, bool]:
        """A pasted picture (straight RGBA or RGB) as a new layer above the active one, centred on the
        canvas; True when it was larger than the canvas and got cropped."""
        if rgba.ndim != 3 or rgba.shape[2] not in (3, 4):
            raise ValueError("A pasted image must be RGB or RGBA.")
        if rgba.shape[2] == 3:
            rgba = np.dstack([rgba, np.full(rgba.shape[:2], 255, np.uint8)])
        h, w = rgba.shape[:2]
        left, top = (self.width - w) // 2, (self.height - h) // 2
        place = clip_rect((left, top, left + w, top + h), self.width, self.height)
        full = np.zeros((self.height, self.width, 4), np.uint8)
        if place is not None:
            src = (place[0] - left, place[1] - top, place[2] - left, place[3] - top)
            full[slices(place)] = rgba[slices(src)]
        layer = Layer.from_rgba(self.unique_name(name), full, LayerKind.IMAGE)
        self.add_layer(layer=layer, label="Paste as layer")
        return layer, (w, h) != ((place[2] - place[0], place[3] - place[1]) if place else (0, 0))

    def apply_image(self, image: np.ndarray, label: str = "Apply result") -> Rect | None:
        """Accept `image` (same size, RGB) as a result layer on top of the stack holding exactly the
        pixels where it differs from the flattened image, so the flattened image becomes `image`
        exactly. Returns the changed rect (None: nothing changed, no edit)."""
        if image.shape != (self.height, self.width, 3):
            raise ValueError(
                f"Result is {image.shape[1]}x{image.shape[0]}, canvas is {self.width}x{self.height}."
            )
        layer = _difference_layer(self.unique_name("Result"), self.image, image)
        if layer is None:
            return None
        self.add_layer(layer=layer, index=len(self.layers), label=label)
        return layer.bounds

    def replace_all(self, image: np.ndarray, mask: np.ndarray, label: str) -> None:
        """The document becomes one image layer `image` and mask `mask` (any size), as one undo step."""
        image = np.ascontiguousarray(image, np.uint8)
        mask = np.ascontiguousarray(mask, np.uint8)
        if image.ndim != 3 or image.shape[:2] != mask.shape:
            raise ValueError("Image and mask sizes differ.")
        before = self._state()
        layer = Layer.from_rgb("Image", image)
        self._set_state(StackState((layer,), (layer.props,), 0, mask.copy()))
        self._commit(label, before, None)

    def extend(
        self,
        left: int,
        top: int,
        right: int,
        bottom: int,
        image: np.ndarray | None = None,
        label: str = "Resize canvas",
    ) -> None:
        """Grow (negative amounts crop) the canvas as one undoable edit; layers and mask move with it.

        Image layers get white in the new area, the others transparency. With `image` (an outpaint
        result, already composited by the engine, the new size) the pixels where it differs from the
        grown picture become a result layer on top, so the flattened image is `image` exactly.
        """
        new_w, new_h = self.width + left + right, self.height + top + bottom
        if new_w < 1 or new_h < 1:
            raise ValueError(f"The canvas would be {new_w}x{new_h}; it must keep at least one pixel.")
        if image is not None and image.shape != (new_h, new_w, 3):
            raise ValueError(f"Result is {image.shape[1]}x{image.shape[0]}, expected {new_w}x{new_h}.")
        before = self._state()
        src = clip_rect((-left, -top, new_w - left, new_h - top), self.width, self.height)
        dst = None if src is None else (src[0] + left, src[1] + top, src[2] + left, src[3] + top)
        layers = [_grown(x, (new_w, new_h), src, dst) for x in self.layers]
        mask = np.zeros((new_h, new_w), np.uint8)
        if src is not None and dst is not None:
            mask[slices(dst)] = self.mask[slices(src)]
        self._set_state(StackState(tuple(layers), before.props, self.active_index, mask))
        self._flat_dirty = (0, 0, new_w, new_h)
        if image is not None:
            result = _difference_layer(
                self.unique_name("Result"), flatten(self.layers, (0, 0, new_w, new_h)), image
            )
            if result is not None:
                self.layers.append(result)
                self.active_index = len(self.layers) - 1
        self._commit(label, before, None)

    def unique_name(self, base: str) -> str:
        """`base` numbered so that no layer has that name yet ("Result 2")."""
        names = {x.name for x in self.layers}
        n = 1
        while f"{base} {n}" in names:
            n += 1
        return f"{base} {n}"

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
        if isinstance(edit, StackEdit):
            state = edit.before if before else edit.after
            mask_changed = state.mask is not self.mask
            size_changed = state.mask.shape != self.mask.shape
            self._set_state(state)
            self._announce(
                None if size_changed else edit.rect, pixels=edit.pixels or size_changed, mask=mask_changed
            )
            return
        if isinstance(edit, TileEdit):
            for tile_rect, old, new in edit.tiles:
                edit.target.pixels[slices(tile_rect)] = old if before else new
            edit.target.touched(edit.rect)
            self.notify(edit.rect, mask=False)
            return
        pixels = edit.before if before else edit.after
        sl = slices(edit.rect)
        if edit.target is None:
            self.mask[sl] = pixels
            self.notify(edit.rect, image=False)
        else:
            edit.target.pixels[sl] = pixels
            edit.target.touched(edit.rect)
            self.notify(edit.rect, mask=False)

    # files ----------------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Save the document: .ora keeps the layers; another format gets the flattened image.
        Either way the document counts as saved."""
        path = Path(path)
        if path.suffix.lower() == ".ora":
            from studio.core.ora import write_ora

            write_ora(path, self.layers, self.image, active=self.active_index)
        else:
            atomic_write_bytes(path, self.flat_bytes(path.suffix))
        self.path = path
        self.saved_version = self.version
        return path

    def save_image(self, path: Path) -> Path:
        """Kept for callers that save the picture: same as `save`."""
        return self.save(path)

    def flat_bytes(self, suffix: str) -> bytes:
        """The flattened image encoded for `suffix`; PNG carries the last accepted result's
        generation parameters (A1111 text + Studio JSON) when there is one."""
        if suffix.lower() == ".png" and self.generation_parameters:
            from studio.core.metadata import png_bytes

            return png_bytes(self.image_pil(), self.generation_parameters)
        return encode_image(self.image_pil(), suffix)

    def export_flat(self, path: Path) -> Path:
        """Write the flattened image (with metadata for PNG); the document's path and saved state stay."""
        atomic_write_bytes(Path(path), self.flat_bytes(Path(path).suffix))
        return Path(path)

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


def _initial_layers(image: np.ndarray | None, layers: list[Layer] | None) -> list[Layer]:
    if layers:
        return list(layers)
    if image is None:
        raise ValueError("A document needs an image or layers.")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"The image must be HxWx3 uint8; got {image.shape} {image.dtype}.")
    h, w = image.shape[:2]
    return [Layer.from_rgb("Image", image), Layer.empty("Paint 1", w, h)]


def _grown(layer: Layer, size: tuple[int, int], src: Rect | None, dst: Rect | None) -> Layer:
    """A copy of `layer` on a canvas of `size` with its pixels of `src` at `dst` (white for images)."""
    w, h = size
    pixels = np.zeros((h, w, 4), np.uint8)
    if layer.kind is LayerKind.IMAGE and layer.bounds == (0, 0, layer.width, layer.height):
        pixels[:] = 255
    if src is not None and dst is not None:
        pixels[slices(dst)] = layer.pixels[slices(src)]
    grown = Layer(layer.name, pixels, layer.visible, layer.opacity, layer.kind)
    grown.bounds = alpha_bounds(pixels)
    return grown


def _difference_layer(name: str, current: np.ndarray, result: np.ndarray) -> Layer | None:
    """A result layer: `result`'s pixels (opaque) where they differ from `current`, clear elsewhere."""
    changed = (current != result).any(axis=2)
    rect = _bbox(changed)
    if rect is None:
        return None
    h, w = changed.shape
    pixels = np.zeros((h, w, 4), np.uint8)
    sl = slices(rect)
    part, where = pixels[sl], changed[sl]
    part[where, :3] = result[sl][where][:, ::-1]
    part[where, 3] = 255
    return Layer(name, pixels, kind=LayerKind.RESULT, bounds=rect)


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


def _bbox(changed: np.ndarray) -> Rect | None:
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _changed_bbox(a: np.ndarray, b: np.ndarray) -> Rect | None:
    diff = a != b
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    return _bbox(diff)
