"""The canvas widget: draws the image, the mask tint, candidates and live previews; maps input to tools.

Coordinates: widget = document * scale + offset. Only dirty rectangles are copied into the QImage
layers and repainted; paintEvent draws only the exposed part of each layer.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
    QTabletEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from studio.core.document import Document, Rect, union_rect
from studio.core.layers import intersect_rect
from studio.ui.canvas import frame, overlays
from studio.ui.canvas.composite import StackComposite, cache_scale, caches_fit
from studio.ui.canvas.cursors import tool_cursor
from studio.ui.canvas.layers import LayerImages, MaskLayer, qimage_from_rgb
from studio.ui.canvas.tools import STROKE_TOOLS, MaskTools, Tool

log = logging.getLogger(__name__)
MIN_SCALE, MAX_SCALE = 0.02, 64.0
BACKGROUND = QColor(48, 48, 52)


class CanvasView(QWidget):
    zoom_changed = Signal(float)
    tool_changed = Signal(str)
    colour_picked = Signal(object)  # (r, g, b) sampled by the eyedropper
    message = Signal(str)  # why a tool did nothing (e.g. painting on a hidden layer)
    brush_size_changed = Signal(int)
    extend_changed = Signal(int, int, int, int)  # left, top, right, bottom (frame drag)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 200)
        self.tools = MaskTools(Document.blank(1, 1))
        self.setCursor(tool_cursor(self.tools.tool.value))
        self.tools.on_colour_picked = self.colour_picked.emit
        self.tools.on_message = self.message.emit
        self.scale = 1.0
        self.offset = QPointF(0, 0)
        self.mask_visible = True
        self.layer_images, self.mask_layer = LayerImages(), MaskLayer()
        self.composite = StackComposite()  # the layers below and above the active one, cached
        self.cache_composites = True  # False: every layer drawn on each repaint (bench_canvas compares)
        self._mask_override: np.ndarray | None = None  # e.g. the effective-mask preview
        self._override: tuple[QImage, tuple[int, int]] | None = None  # candidate image, origin
        self.comparing = False  # show the original instead of the candidate (hold C)
        self._preview: tuple[QImage, Rect] | None = None
        self.extend = (0, 0, 0, 0)
        self._frame_drag: frame.FrameDrag | None = None
        self._pan_from: QPointF | None = None
        self._space = False
        self._cursor_pos: QPointF | None = None
        self._painted_cursor = QRect()  # where the brush outline was last drawn (repainted when it moves)
        self.region: overlays.GenerationRegion | None = None  # what an inpaint would generate
        self.seam_box: Rect | None = None  # the worst stretch of a flagged seam, document pixels
        self._fitted = False
        self._settle = QTimer(self)  # running while the view moves; on timeout, one smooth repaint
        self._settle.setSingleShot(True)
        self._settle.setInterval(150)
        self._settle.timeout.connect(self.update)
        self.set_document(doc)

    # document -------------------------------------------------------------------------------------
    @property
    def doc(self) -> Document:
        return self.tools.doc

    def set_document(self, doc: Document) -> None:
        if self.tools.doc is not doc:
            self.tools.doc.remove_listener(self._on_doc_changed)
        self.tools.set_document(doc)
        doc.add_listener(self._on_doc_changed)
        self._mask_override = None
        self._reset_layers()
        self._fitted = False
        self.fit()

    def _reset_layers(self) -> None:
        self._dirty_mask: Rect | None = None
        self.layer_images.reset(self.doc.layers)
        self.composite.changed(None)
        self.mask_layer.reset(self.doc.mask if self._mask_override is None else self._mask_override)

    def _on_doc_changed(self, rect: Rect | None) -> None:
        """Repaint what changed. Layers are drawn straight from their arrays; the mask tint is copied
        once per frame, in paintEvent."""
        if not self.layer_images.current(self.doc.layers):
            self.layer_images.reset(self.doc.layers)
        if self.layer_images.size != self.doc.size:
            self._reset_layers()
            self.update()
            return
        image_changed, mask_changed = self.doc.last_change
        if rect is None:  # anywhere: a change of the stack or of a layer's properties, the whole mask
            self._changed_everywhere(image_changed, mask_changed)
            return
        self.composite.changed(rect)
        if not (image_changed or mask_changed):  # only the history changed (a stroke ended)
            return
        if mask_changed and self._mask_override is None:
            self._dirty_mask = union_rect(self._dirty_mask, rect)
        self.update(self.doc_rect_to_widget(rect))

    def _changed_everywhere(self, image_changed: bool, mask_changed: bool) -> None:
        """Redraw what may have changed anywhere: the composite caches only if the flattened image
        did (the hidden layer's opacity, a new active layer: they follow the stack by themselves),
        the mask tint only if the mask did."""
        if image_changed:
            self.composite.changed(None)
        if mask_changed:
            self._dirty_mask = None
            self.mask_layer.reset(self.doc.mask if self._mask_override is None else self._mask_override)
        self.update()

    def flush_layers(self) -> None:
        """Bring the mask tint up to date with the document (many mouse events, one copy)."""
        if self._dirty_mask is not None:
            self.mask_layer.update(self.doc.mask, self._dirty_mask)
            self._dirty_mask = None

    def show_mask_array(self, mask: np.ndarray | None) -> None:
        """Show `mask` (same size as the document) instead of the document mask; None to go back."""
        self._mask_override = mask
        self.mask_layer.reset(self.doc.mask if mask is None else mask)
        self.update()

    def set_mask_visible(self, visible: bool) -> None:
        self.mask_visible = visible
        self.update()

    def set_override(self, rgb: np.ndarray | None, origin: tuple[int, int] = (0, 0)) -> None:
        """Show a candidate result in place of the image (origin in document pixels, may be negative)."""
        self._override = None if rgb is None else (qimage_from_rgb(rgb), origin)
        self.update()

    def set_preview(self, rgb: np.ndarray | None, target: Rect | None = None) -> None:
        """Show a live preview scaled into `target` (document pixels); None clears it."""
        if rgb is None or target is None:
            self._preview = None
        else:
            self._preview = (qimage_from_rgb(rgb), target)
        self.update()

    def set_region(self, region: overlays.GenerationRegion | None) -> None:
        """Outline the region an inpaint would generate (None: none)."""
        if region != self.region:
            self.region = region
            self.update()

    def set_seam_box(self, box: Rect | None) -> None:
        """Highlight the worst stretch of a result's seam (document pixels; None: none)."""
        if box != self.seam_box:
            self.seam_box = box
            self.update()

    def set_extend(self, left: int, top: int, right: int, bottom: int) -> None:
        self.extend = (left, top, right, bottom)
        self.update()

    # coordinates ----------------------------------------------------------------------------------
    def widget_to_doc(self, p: QPointF) -> tuple[float, float]:
        return ((p.x() - self.offset.x()) / self.scale, (p.y() - self.offset.y()) / self.scale)

    def doc_to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(x * self.scale + self.offset.x(), y * self.scale + self.offset.y())

    def doc_rect_to_widget(self, rect: Rect, margin: int = 2) -> QRect:
        a = self.doc_to_widget(rect[0], rect[1])
        b = self.doc_to_widget(rect[2], rect[3])
        return QRectF(a, b).toAlignedRect().adjusted(-margin, -margin, margin, margin)

    # zoom and pan ---------------------------------------------------------------------------------
    def set_scale(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom so that the document point under `anchor` (widget px; default centre) stays put."""
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        scale = min(MAX_SCALE, max(MIN_SCALE, scale))
        dx, dy = self.widget_to_doc(anchor)
        self.scale = scale
        self.offset = QPointF(anchor.x() - dx * scale, anchor.y() - dy * scale)
        self.update()
        self.zoom_changed.emit(scale)

    def fit(self) -> None:
        left, top, right, bottom = self.extend
        w, h = self.doc.width + left + right, self.doc.height + top + bottom
        vw, vh = max(1, self.width() - 24), max(1, self.height() - 24)
        self.scale = min(MAX_SCALE, max(MIN_SCALE, min(vw / w, vh / h)))
        self.offset = QPointF(
            (self.width() - w * self.scale) / 2 + left * self.scale,
            (self.height() - h * self.scale) / 2 + top * self.scale,
        )
        self.update()
        self.zoom_changed.emit(self.scale)

    def actual_size(self) -> None:
        self.set_scale(1.0)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if not self._fitted:
            self.fit()
            self._fitted = self.isVisible()

    # painting -------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        self.flush_layers()
        p = QPainter(self)
        exposed = event.rect()
        p.fillRect(exposed, BACKGROUND)
        smooth = self.scale < 1.0 and not self._settle.isActive()  # fast while panning/zooming
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        frame.draw_extension(p, self)
        if self._override is not None and not self.comparing:
            img, origin = self._override
            self._draw_layer(p, img, origin, exposed)
        else:
            self._draw_document_layers(p, exposed)
            tinted = intersect_rect(self.mask_layer.bounds, self._exposed_doc_rect(exposed))
            if self.mask_visible and not self.comparing and tinted is not None:
                self._draw_part(p, self.mask_layer.qimage, tinted)
        if self._preview is not None:
            img, (left, top, right, bottom) = self._preview
            target = QRectF(self.doc_to_widget(left, top), self.doc_to_widget(right, bottom))
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)  # a coarse preview: no blocks
            p.drawImage(target, img, QRectF(img.rect()))
        if self.region is not None and self._override is None and self._preview is None:
            overlays.draw_region(p, self, self.region)
        if self.seam_box is not None and self._override is not None and not self.comparing:
            overlays.draw_seam(p, self, self.seam_box)
        self._draw_tool_feedback(p)
        p.end()

    def _exposed_doc_rect(self, exposed: QRect) -> Rect:
        """The document pixels (unclipped, 1 px margin) under the exposed widget rect."""
        x0, y0 = self.widget_to_doc(QPointF(exposed.left(), exposed.top()))
        x1, y1 = self.widget_to_doc(QPointF(exposed.right() + 1, exposed.bottom() + 1))
        return (math.floor(x0) - 1, math.floor(y0) - 1, math.ceil(x1) + 1, math.ceil(y1) + 1)

    def _draw_layer(self, p: QPainter, img: QImage, origin: tuple[int, int], exposed: QRect) -> None:
        """Draw only the part of `img` that covers the exposed widget rect."""
        if img.isNull():
            return
        ox, oy = origin
        left, top, right, bottom = self._exposed_doc_rect(exposed)
        part = intersect_rect(
            (left - ox, top - oy, right - ox, bottom - oy), (0, 0, img.width(), img.height())
        )
        if part is not None:
            self._draw_part(p, img, part, origin)

    def _draw_part(self, p: QPainter, img: QImage, part: Rect, origin: tuple[int, int] = (0, 0)) -> None:
        sl, st, sr, sb = part
        ox, oy = origin
        target = QRectF(self.doc_to_widget(sl + ox, st + oy), self.doc_to_widget(sr + ox, sb + oy))
        p.drawImage(target, img, QRectF(sl, st, sr - sl, sb - st))

    def _draw_document_layers(self, p: QPainter, exposed: QRect) -> None:
        """The same composite as `Document.image`, drawn only where the exposed rect meets the
        canvas: the cached composite of the layers below the active one (over white), the active
        layer with its opacity, the cached composite of the layers above (`composite`)."""
        w, h = self.layer_images.size
        area = intersect_rect(self._exposed_doc_rect(exposed), (0, 0, w, h))
        layers = self.layer_images.layers
        if area is None or not layers:
            return
        cached = self.composite
        zooming = self._settle.isActive() and cache_scale(self.scale) != cached.scale
        if zooming or not self.cache_composites or not caches_fit((w, h), self.scale):
            self._draw_each_layer(p, area)  # zooming: the caches are redrawn once it settles
            return
        active_layer = self.doc.active_layer
        active = next((i for i, x in enumerate(layers) if x is active_layer), len(layers) - 1)
        cached.prepare(layers, self.layer_images.qimages, active, self.scale, area)
        smooth = p.testRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if cached.scale == self.scale:  # unscaled copies, whatever the offset's fraction
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self._draw_cached(p, cached.below, area, cached.scale)
        layer = layers[active]
        part = intersect_rect(layer.bounds, area) if layer.shows else None
        if part is not None:
            p.setOpacity(layer.opacity)
            if cached.active is not None:
                self._draw_cached(p, cached.active, part, cached.scale)
            else:
                self._draw_part(p, self.layer_images.qimages[active], part)
            p.setOpacity(1.0)
        if cached.above is not None:
            self._draw_cached(p, cached.above, area, cached.scale)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)

    def _draw_each_layer(self, p: QPainter, area: Rect) -> None:
        """White under the canvas, then each visible layer with its opacity, bottom first."""
        p.fillRect(
            QRectF(self.doc_to_widget(area[0], area[1]), self.doc_to_widget(area[2], area[3])),
            Qt.GlobalColor.white,
        )
        for layer, img in zip(self.layer_images.layers, self.layer_images.qimages, strict=True):
            part = intersect_rect(layer.bounds, area) if layer.shows else None
            if part is not None:
                p.setOpacity(layer.opacity)
                self._draw_part(p, img, part)
        p.setOpacity(1.0)

    def _draw_cached(self, p: QPainter, img: QImage, area: Rect, scale: float) -> None:
        """Draw doc `area` of a composite kept at `scale` x the document's size."""
        left, top, right, bottom = area
        target = QRectF(self.doc_to_widget(left, top), self.doc_to_widget(right, bottom))
        p.drawImage(
            target, img, QRectF(left * scale, top * scale, (right - left) * scale, (bottom - top) * scale)
        )

    def _draw_tool_feedback(self, p: QPainter) -> None:
        st, tool = self.tools.state, self.tools.tool
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pens = (QPen(QColor(0, 0, 0, 200), 1.0), QPen(QColor(255, 255, 255, 220), 1.0, Qt.PenStyle.DashLine))
        if st.active and tool is Tool.RECT:
            r = QRectF(self.doc_to_widget(*st.start), self.doc_to_widget(*st.last))
            for pen in pens:
                p.setPen(pen)
                p.drawRect(r.normalized())
        if st.active and tool is Tool.LASSO and len(st.points) > 1:
            poly = QPolygonF([self.doc_to_widget(*pt) for pt in st.points])
            for pen in pens:
                p.setPen(pen)
                p.drawPolyline(poly)
        if self._cursor_pos is not None and tool in STROKE_TOOLS and self._pan_from is None:
            radius = self.tools.settings.size * 0.5 * self.scale
            for pen in pens:
                p.setPen(pen)
                p.drawEllipse(self._cursor_pos, radius, radius)
            self._painted_cursor = self._cursor_rect()

    def _cursor_rect(self) -> QRect:
        if self._cursor_pos is None:
            return QRect()
        r = self.tools.settings.size * 0.5 * self.scale + 3
        c = self._cursor_pos
        return QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r).toAlignedRect()

    # input ----------------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        steps = event.angleDelta().y() / 120.0
        if steps:
            self._settle.start()
            self.set_scale(self.scale * (1.25**steps), event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        self._press(event.position(), event.button(), 1.0, alt)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self._move(event.position(), 1.0)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self._release(event.position(), event.button())

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 - Qt API
        kind, pos, pressure = event.type(), event.position(), event.pressure()
        if kind == QTabletEvent.Type.TabletPress:
            alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._press(pos, event.button(), pressure, alt)
        elif kind == QTabletEvent.Type.TabletMove:
            self._move(pos, pressure)
        elif kind == QTabletEvent.Type.TabletRelease:
            self._release(pos, event.button())
        event.accept()  # no synthesized mouse events

    def _press(self, pos: QPointF, button: Qt.MouseButton, pressure: float, alt: bool) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = pos
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button != Qt.MouseButton.LeftButton or self._override is not None:
            return
        if self.tools.tool is Tool.FRAME:
            self._frame_drag = frame.start_drag(self, pos)
            return
        self.tools.press(self.widget_to_doc(pos), pressure, alt=alt)
        self.update()

    def _move(self, pos: QPointF, pressure: float) -> None:
        if self._pan_from is not None:
            self._settle.start()
            self.offset += pos - self._pan_from
            self._pan_from = pos
            self.update()
            return
        old = self._painted_cursor
        self._cursor_pos = pos
        if self.tools.tool is Tool.FRAME and self._frame_drag is None:
            self.setCursor(frame.cursor_for(self, pos))
        if self._frame_drag is not None:
            frame.drag_to(self, self._frame_drag, pos)
            return
        if self.tools.state.active:
            self.tools.move(self.widget_to_doc(pos), pressure)
            if self.tools.tool in (Tool.RECT, Tool.LASSO):
                self.update()
        self.update(old.united(self._cursor_rect()))

    def _release(self, pos: QPointF, button: Qt.MouseButton) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else tool_cursor(self.tools.tool.value)
            )
            return
        if self._frame_drag is not None:
            self._frame_drag = None
            return
        if button == Qt.MouseButton.LeftButton and self.tools.state.active:
            self.tools.release(self.widget_to_doc(pos))
            self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self._cursor_pos = None
        self.update(self._painted_cursor)
        super().leaveEvent(event)

    def set_tool(self, tool: Tool) -> None:
        self.tools.cancel()
        self.tools.tool = tool
        self.setCursor(tool_cursor(tool.value))
        self.tool_changed.emit(tool.value)
        self.update()

    def set_brush_size(self, size: int) -> None:
        """Repaint where the outline was last drawn and where it is now: no ghost outlines, whatever
        changed the size before (the [ and ] keys change it first)."""
        self.tools.settings.size = int(size)
        self.brush_size_changed.emit(self.tools.settings.size)
        self.update(self._painted_cursor.united(self._cursor_rect()))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        key, s = event.key(), self.tools.settings
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_BracketRight:
            s.grow()
            self.set_brush_size(s.size)
        elif key == Qt.Key.Key_BracketLeft:
            s.shrink()
            self.set_brush_size(s.size)
        elif key == Qt.Key.Key_C and self._override is not None and not event.modifiers():
            self.set_comparing(True)
        elif key in _TOOL_KEYS and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            self.set_tool(_TOOL_KEYS[Qt.Key(key)])
        else:
            super().keyPressEvent(event)

    def set_comparing(self, on: bool) -> None:
        """While on, a candidate under review gives way to the original (before/after)."""
        if on != self.comparing:
            self.comparing = on
            self.update()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setCursor(tool_cursor(self.tools.tool.value))
        elif event.key() == Qt.Key.Key_C and not event.isAutoRepeat():
            self.set_comparing(False)
        else:
            super().keyReleaseEvent(event)


_TOOL_KEYS = {
    Qt.Key.Key_B: Tool.BRUSH,
    Qt.Key.Key_E: Tool.ERASER,
    Qt.Key.Key_R: Tool.RECT,
    Qt.Key.Key_L: Tool.LASSO,
    Qt.Key.Key_F: Tool.FRAME,
    Qt.Key.Key_P: Tool.PAINT,
    Qt.Key.Key_I: Tool.PICKER,
}
