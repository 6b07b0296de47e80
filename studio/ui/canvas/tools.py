"""Mask tools in document coordinates: brush, eraser, rectangle, lasso, canvas-frame drag.

No widgets here: the view maps events to document points and calls press/move/release; the tool
edits the Document and reports what to redraw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from studio.core.document import Document
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


@dataclass
class BrushSettings:
    size: int = 64  # diameter in document pixels
    hardness: float = 0.8
    pressure_size: bool = True  # tablet pressure scales the size

    def radius(self, pressure: float = 1.0) -> float:
        p = max(MIN_PRESSURE, min(1.0, pressure)) if self.pressure_size else 1.0
        return self.size * 0.5 * p

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
    def __init__(self, doc: Document, settings: BrushSettings | None = None) -> None:
        self.doc = doc
        self.settings = settings or BrushSettings()
        self.tool = Tool.BRUSH
        self.state = ToolState()

    def set_document(self, doc: Document) -> None:
        self.cancel()
        self.doc = doc

    def cancel(self) -> None:
        if self.state.active and self.tool in (Tool.BRUSH, Tool.ERASER):
            self.doc.end_stroke()
        self.state = ToolState()

    def press(self, p: Point, pressure: float = 1.0, *, alt: bool = False) -> None:
        erase = (self.tool is Tool.ERASER) != alt  # Alt flips paint/erase for every tool
        self.state = ToolState(active=True, erase=erase, last=p, start=p, points=[p])
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            self.doc.begin_stroke()
            r = self.settings.radius(pressure)
            self.state.last_radius = r
            self._segment(p, p, r, r)

    def move(self, p: Point, pressure: float = 1.0) -> None:
        st = self.state
        if not st.active:
            return
        if self.tool in (Tool.BRUSH, Tool.ERASER):
            r = self.settings.radius(pressure)
            self._segment(st.last, p, st.last_radius, r)
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
        if self.tool in (Tool.BRUSH, Tool.ERASER):
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

    def _segment(self, p0: Point, p1: Point, r0: float, r1: float) -> None:
        rect = brush.paint_segment(
            self.doc.mask, p0, p1, r0, hardness=self.settings.hardness, erase=self.state.erase, radius_end=r1
        )
        self.doc.stroke_touched(rect)
