"""A mouse cursor per canvas tool: a crosshair (the hot spot) with the tool's sign beside it.

The sign says which tool is active where the artist is looking; the brush tools also draw their size
outline on the canvas. Cursors are drawn with QPainter (no image files), white with a dark outline so
they show on light and dark pictures alike.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QCursor, QPainter, QPainterPath, QPen, QPixmap

SIDE = 32  # cursor image side, px
HOT = 11  # the hot spot (crosshair centre), px from the top-left
Sign = Callable[[QPainterPath], None]


def _dot(path: QPainterPath) -> None:  # mask brush: a filled dot
    path.addEllipse(QPointF(23, 23), 4.5, 4.5)


def _eraser(path: QPainterPath) -> None:  # mask eraser: a block with a slanted end
    path.moveTo(17, 25)
    path.lineTo(23, 17)
    path.lineTo(29, 21)
    path.lineTo(23, 29)
    path.closeSubpath()


def _rectangle(path: QPainterPath) -> None:
    path.addRect(QRectF(17, 18, 12, 9))


def _lasso(path: QPainterPath) -> None:
    path.addEllipse(QPointF(23, 21), 6, 4)
    path.moveTo(19, 24)
    path.cubicTo(17, 28, 21, 29, 20, 31)


def _drop(path: QPainterPath) -> None:  # colour paint: a paint drop
    path.moveTo(23, 15)
    path.cubicTo(27, 21, 29, 24, 26, 28)
    path.cubicTo(24, 30, 20, 30, 19, 27)
    path.cubicTo(18, 24, 20, 21, 23, 15)


def _pipette(path: QPainterPath) -> None:  # colour picker
    path.moveTo(17, 29)
    path.lineTo(26, 20)
    path.addEllipse(QPointF(27, 19), 3, 3)


SIGNS: dict[str, tuple[Sign, bool]] = {  # tool value -> (its sign, filled)
    "brush": (_dot, True),
    "eraser": (_eraser, False),
    "rect": (_rectangle, False),
    "lasso": (_lasso, False),
    "paint": (_drop, True),
    "picker": (_pipette, False),
}


def tool_cursor(tool: str) -> QCursor:
    """The cursor for the tool named `tool` (a `Tool` value); a plain crosshair for any other."""
    sign = SIGNS.get(tool)
    if sign is None:
        return QCursor(Qt.CursorShape.CrossCursor)
    pixmap = QPixmap(SIDE, SIDE)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    path = _crosshair()
    make, filled = sign
    shape = QPainterPath()
    make(shape)
    for width, colour in ((3.0, QColor(0, 0, 0, 200)), (1.2, QColor(255, 255, 255))):
        p.setPen(QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.setBrush(colour if filled else Qt.BrushStyle.NoBrush)
        p.drawPath(shape)
    p.end()
    return QCursor(pixmap, HOT, HOT)


def _crosshair() -> QPainterPath:
    """Four arms around the hot spot with a gap, so the pixel under it stays visible."""
    path = QPainterPath()
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        path.moveTo(HOT + 3 * dx, HOT + 3 * dy)
        path.lineTo(HOT + 9 * dx, HOT + 9 * dy)
    return path
