"""The outpaint frame: the pending extension drawn around the canvas, and dragging its edges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from studio.core.document import Document
    from studio.ui.canvas.tools import MaskTools

GRAB_PX = 10.0  # how close (widget px) to an edge a press must be to grab it
SNAP = 8
MAX_EXTEND = 2048


class FrameView(Protocol):
    """What the frame uses of the canvas view (``CanvasView``; the view imports this module, not back)."""

    @property
    def doc(self) -> Document: ...
    @property
    def tools(self) -> MaskTools: ...
    @property
    def scale(self) -> float: ...
    @property
    def extend(self) -> tuple[int, int, int, int]: ...
    @property
    def extend_changed(self) -> SignalInstance: ...
    def doc_to_widget(self, x: float, y: float) -> QPointF: ...
    def set_extend(self, left: int, top: int, right: int, bottom: int) -> None: ...


@dataclass
class FrameDrag:
    sides: tuple[str, ...]  # any of "left", "top", "right", "bottom"
    start: QPointF
    start_extend: tuple[int, int, int, int]


def frame_rect(view: FrameView) -> QRectF:
    left, top, right, bottom = view.extend
    w, h = view.doc.width, view.doc.height
    return QRectF(view.doc_to_widget(-left, -top), view.doc_to_widget(w + right, h + bottom))


def draw_extension(p: QPainter, view: FrameView) -> None:
    if not any(view.extend) and view.tools.tool.value != "frame":
        return
    outer = frame_rect(view)
    p.save()
    p.fillRect(outer, QBrush(QColor(90, 90, 100), Qt.BrushStyle.Dense4Pattern))
    p.setPen(QPen(QColor(120, 200, 255), 1.5, Qt.PenStyle.DashLine))
    p.drawRect(outer)
    p.restore()


def cursor_for(view: FrameView, pos: QPointF) -> Qt.CursorShape:
    """A resize cursor over a draggable edge or corner of the frame."""
    drag = start_drag(view, pos)
    sides = set(drag.sides) if drag else set()
    shapes = Qt.CursorShape
    if sides in ({"left", "top"}, {"right", "bottom"}):
        return shapes.SizeFDiagCursor
    if sides in ({"right", "top"}, {"left", "bottom"}):
        return shapes.SizeBDiagCursor
    if sides & {"left", "right"}:
        return shapes.SizeHorCursor
    if sides & {"top", "bottom"}:
        return shapes.SizeVerCursor
    return shapes.CrossCursor


def start_drag(view: FrameView, pos: QPointF) -> FrameDrag | None:
    r = frame_rect(view)
    sides = []
    if abs(pos.x() - r.left()) <= GRAB_PX:
        sides.append("left")
    elif abs(pos.x() - r.right()) <= GRAB_PX:
        sides.append("right")
    if abs(pos.y() - r.top()) <= GRAB_PX:
        sides.append("top")
    elif abs(pos.y() - r.bottom()) <= GRAB_PX:
        sides.append("bottom")
    if not sides:
        return None
    return FrameDrag(tuple(sides), QPointF(pos), view.extend)


def drag_to(view: FrameView, drag: FrameDrag, pos: QPointF) -> None:
    dx = (pos.x() - drag.start.x()) / view.scale
    dy = (pos.y() - drag.start.y()) / view.scale
    left, top, right, bottom = drag.start_extend
    delta = {"left": -dx, "right": dx, "top": -dy, "bottom": dy}
    values = {"left": left, "top": top, "right": right, "bottom": bottom}
    for side in drag.sides:
        amount = values[side] + delta[side]
        values[side] = int(max(0, min(MAX_EXTEND, round(amount / SNAP) * SNAP)))
    new = (values["left"], values["top"], values["right"], values["bottom"])
    if new != view.extend:
        view.set_extend(*new)
        view.extend_changed.emit(*new)
