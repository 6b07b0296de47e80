"""What the canvas draws over the picture about generation (like `frame` does for the outpaint frame).

- the region an inpaint will generate (the selection's box at the model's size), a dashed outline
  with its generation size, so the artist sees what "Generate into the selection" covers;
- the worst stretch of a result's seam when the seam check flags it, a red outline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from studio.core.plan import plan
from studio.core.request import GenerationRequest, InpaintArea, MaskOptions, Mode

if TYPE_CHECKING:
    from studio.core.document import Rect

REGION_COLOUR = QColor(90, 200, 255)
SEAM_COLOUR = QColor(240, 70, 50)


class CanvasView(Protocol):
    """What the overlays use of the canvas view (the view imports this module, not back)."""

    def doc_to_widget(self, x: float, y: float) -> QPointF: ...


@dataclass(frozen=True)
class GenerationRegion:
    box: Rect  # document pixels
    generation_size: tuple[int, int]  # what the pipeline generates the box at

    @property
    def label(self) -> str:
        w, h = self.generation_size
        return f"generates at {w}×{h}"


def inpaint_region(
    size: tuple[int, int], mask: Image.Image, options: MaskOptions, side: int
) -> GenerationRegion | None:
    """The region an inpaint of a `size` canvas with `mask` would generate "into the selection", as
    the engine's plan decides it (None for the whole image, or when the mask is empty)."""
    if options.area is not InpaintArea.ONLY_MASKED or mask.getbbox() is None:
        return None
    request = GenerationRequest(  # geometry only: the plan reads the image's size, not its pixels
        mode=Mode.INPAINT,
        init_image=Image.new("L", size),
        mask=mask,
        mask_options=options,
        width=side,
        height=side,
    )
    try:
        the_plan = plan(request)
    except ValueError:  # e.g. nothing left of the mask once shrunk
        return None
    return GenerationRegion(the_plan.region_in_source, the_plan.generation_size)


def draw_region(p: QPainter, view: CanvasView, region: GenerationRegion) -> None:
    """A dashed outline round the region, its generation size at its top-left corner."""
    rect = _widget_rect(view, region.box)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    p.setPen(QPen(QColor(0, 0, 0, 160), 3.0))
    p.drawRect(rect)
    p.setPen(QPen(REGION_COLOUR, 1.0, Qt.PenStyle.DashLine))
    p.drawRect(rect)
    metrics = p.fontMetrics()
    text = region.label
    box = QRectF(rect.left(), rect.top() - metrics.height() - 4, metrics.horizontalAdvance(text) + 8, 0)
    box.setHeight(metrics.height() + 2)
    if box.top() < 0:
        box.moveTop(rect.top() + 2)
    p.fillRect(box, QColor(0, 0, 0, 170))
    p.setPen(REGION_COLOUR)
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def draw_seam(p: QPainter, view: CanvasView, box: Rect) -> None:
    """A red outline with a soft fill round the worst stretch of a flagged seam."""
    rect = _widget_rect(view, box).adjusted(-2, -2, 2, 2)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    p.fillRect(rect, QColor(SEAM_COLOUR.red(), SEAM_COLOUR.green(), SEAM_COLOUR.blue(), 40))
    p.setPen(QPen(QColor(0, 0, 0, 160), 4.0))
    p.drawRoundedRect(rect, 4, 4)
    p.setPen(QPen(SEAM_COLOUR, 2.0))
    p.drawRoundedRect(rect, 4, 4)


def _widget_rect(view: CanvasView, box: Rect) -> QRectF:
    left, top, right, bottom = box
    return QRectF(view.doc_to_widget(left, top), view.doc_to_widget(right, bottom))
