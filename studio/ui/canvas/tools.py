"""Tools in document coordinates: mask brush, eraser, rectangle, lasso, canvas-frame drag, and the
colour brush (paints the active layer) with its eyedropper.

No widgets here: the view maps events to document points and calls press/move/release; the tool
edits the Document and reports what to redraw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from studio.core.document import Document
from studio.core.layers import Layer, colour_pixel
from studio.ui.canvas import brush

Point = tuple[float, float]
MIN_SIZE, MAX_SIZE = 1, 2000
MIN_PRESSURE = 0.05


class Tool(str, Enum):
    BRUSH = "brush"
    ERASER = "eraser"
    RECT = "rect"
    LASSO = "lasso"
    FRAME = "frame"  # drag the canvas edges to set outpaint amounts
    PAINT = "paint"  # colour brush on the active layer (Alt: erase the layer)
    PICKER = "picker"  # eyedropper: the flattened colour under the pointer becomes the brush colour


STROKE_TOOLS = (Tool.BRUSH, Tool.ERASER, Tool.PAINT)


@dataclass
class BrushSettings:
    size: int = 64  # diameter in document pixels
    hardness: float = 0.8
    pressure_size: bool = True  # tablet pressure scales the size
    colour: tuple[int, int, int] = (0, 0, 0)  # the colour brush's colour (RGB)
    opacity: float = 1.0  # the colour brush's opacity (0..1): a stroke never builds up beyond it
    pressure_opacity: bool = False  # tablet pressure scales the colour brush's opacity

    def radius(self, pressure: float = 1.0) -> float:
        p = max(MIN_PRESSURE, min(1.0, pressure)) if self.pressure_size else 1.0
        return self.size * 0.5 * p

    def strength(self, pressure: float = 1.0) -> float:
        """The colour brush's coverage scale for this pen pressure."""
        return max(MIN_PRESSURE, min(1.0, pressure)) if self.pressure_opacity else 1.0

    def grow(self) -> None:
        self.size = min(MAX_SIZE, max(self.size + 1, int(round(self.size * 1.2))))

    def shrink(self) -> None:
        self.size = max(MIN_SIZE, min(self.size - 1, int(round(self.size / 1.2))))


@dataclass
class ToolState:
    """What is in progress between press and release."""

    active: bool = False
    erase: bool = False
    last: Point = (0.0, 0.0)
    last_radius: float = 0.0
    start: Point = (0.0, 0.0)
    points: list[Point] = field(default_factory=list)


class MaskTools:
    """Every tool of the canvas (the name is historical: it began with the mask tools)."""

    def __init__(self, doc: Document, settings: BrushSettings | None = None) -> None:
        self.doc = doc
        self.settings = settings or BrushSettings()
        self.tool = Tool.BRUSH
        self.state = ToolState()
        self.on_colour_picked: Callable[[tuple[int, int, int]], None] | None = None
        self.on_message: Callable[[str], None] | None = None  # why a press did nothing
        self._layer: Layer | None = None  # the layer a colour stroke paints
        self._coverage: np.ndarray | None = None  # the colour stroke's coverage so far (HxW uint8)

    def set_document(self, doc: Document) -> None:
        self.cancel()
        self.doc = doc

    def cancel(self) -> None:
        if self.state.active and self.tool in STROKE_TOOLS:
            self.doc.end_stroke()
        self.state = ToolState()
        self._layer = self._coverage = None

    def press(self, p: Point, pressure: float = 1.0, *, alt: bool = False) -> None:
        erase = (self.tool is Tool.ERASER) != alt  # Alt flips paint/erase for every tool
        if self.tool is Tool.PICKER:
            self.pick(p)
            return
        if self.tool is Tool.PAINT and not (
            self.doc.active_layer.visible and self.doc.active_layer.opacity > 0
        ):
            if self.on_message is not None:
                self.on_message(f"The layer {self.doc.active_layer.name} is hidden: show it to paint on it.")
            return
        self.state = ToolState(active=True, erase=erase, last=p, start=p, points=[p])
        if self.tool in STROKE_TOOLS:
            if self.tool is Tool.PAINT:
                self._layer = self.doc.active_layer
                self._coverage = np.zeros((self.doc.height, self.doc.width), np.uint8)
            self.doc.begin_stroke(self._layer)
            r = self.settings.radius(pressure)
            self.state.last_radius = r
            self._segment(p, p, r, r, pressure)

    def move(self, p: Point, pressure: float = 1.0) -> None:
        st = self.state
        if not st.active:
            return
        if self.tool in STROKE_TOOLS:
            r = self.settings.radius(pressure)
            self._segment(st.last, p, st.last_radius, r, pressure)
            st.last, st.last_radius = p, r
        elif self.tool is Tool.LASSO:
            if abs(p[0] - st.last[0]) + abs(p[1] - st.last[1]) >= 1.0:
                st.points.append(p)
                st.last = p
        else:
            st.last = p

    def release(self, p: Point) -> None:
        st = self.state
        if not st.active:
            return
        if self.tool is Tool.PAINT:
            self.doc.end_stroke(
                f"{'Erase on' if st.erase else 'Paint on'} {self._layer.name if self._layer else ''}"
            )
            self._layer = self._coverage = None
        elif self.tool in (Tool.BRUSH, Tool.ERASER):
            self.doc.end_stroke("Erase" if st.erase else "Brush stroke")
        elif self.tool is Tool.RECT:
            found = brush.rect_values(self.doc.mask, st.start, p, erase=st.erase)
            if found:
                self.doc.set_mask_region(found[0], found[1], "Rectangle")
        elif self.tool is Tool.LASSO:
            found = brush.polygon_values(self.doc.mask, [*st.points, p], erase=st.erase)
            if found:
                self.doc.set_mask_region(found[0], found[1], "Lasso")
        self.state = ToolState()

    def pick(self, p: Point) -> tuple[int, int, int]:
        """The eyedropper: the flattened colour at `p` becomes the colour brush's colour."""
        colour = self.doc.composite_pixel(int(p[0]), int(p[1]))
        self.settings.colour = colour
        if self.on_colour_picked is not None:
            self.on_colour_picked(colour)
        return colour

    def _segment(self, p0: Point, p1: Point, r0: float, r1: float, pressure: float = 1.0) -> None:
        if self._layer is not None and self._coverage is not None:
            self._colour_segment(self._layer, self._coverage, p0, p1, r0, r1, pressure)
            return
        rect = brush.paint_segment(
            self.doc.mask, p0, p1, r0, hardness=self.settings.hardness, erase=self.state.erase, radius_end=r1
        )
        self.doc.stroke_touched(rect)

    def _colour_segment(
        self, layer: Layer, coverage: np.ndarray, p0: Point, p1: Point, r0: float, r1: float, pressure: float
    ) -> None:
        s = self.settings
        strength = s.strength(pressure) * s.opacity  # max(a, b) * opacity = max(a * opacity, b * opacity)
        rect = brush.paint_colour_segment(
            layer.pixels,
            coverage,
            self.doc.stroke_backup,
            p0,
            p1,
            r0,
            colour_pixel(s.colour),
            hardness=s.hardness,
            radius_end=r1,
            strength=strength,
            erase=self.state.erase,
        )
        self.doc.stroke_touched(rect)
