"""Cached composites of the layers below and above the active one, so that the canvas view draws
three images per repaint whatever the number of layers: the layers below over white (opaque), the
active layer (it changes with every brush segment), the layers above.

Hiding, showing or changing the opacity of the active layer redraws none of the caches; a change to
another layer redraws its cache where the document said it changed, and only the part the view shows
(the rest when it comes into view). Zoomed out, the caches are kept at the view's scale, and so is
each layer ("mips": brush segments redraw their dirty rect into the active one's), so a repaint is
three unscaled copies instead of smoothing every layer down from the document's size, and a cache is
redrawn from the mips by unscaled copies too; a new zoom redraws them for the part in view (while the
view moves, the view draws each layer directly, unsmoothed, as before).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QImage, QPainter, QRegion

from studio.core.layers import Layer, Rect, intersect_rect, union_rect


@dataclass(frozen=True)
class _LayerState:
    """What a cached layer looked like: same object, array, visibility, opacity and pixel version."""

    layer: int
    pixels: int
    visible: bool
    opacity: float
    version: int


def _states(layers: list[Layer], props: bool) -> tuple[_LayerState, ...]:
    return tuple(
        _LayerState(id(x), id(x.pixels), x.visible and props, x.opacity if props else 1.0, x.version)
        for x in layers
    )


MAX_CACHE_PIXELS = 4096 * 4096  # per cache (64 MB); bigger: the view draws each layer instead
MIP_BUDGET_PIXELS = 3 * MAX_CACHE_PIXELS  # every layer's mip + the composites (zoomed out; 192 MB)


def cache_scale(view_scale: float) -> float:
    """The caches' resolution for a view scale: the document's when zoomed in, else the view's."""
    return min(1.0, view_scale)


def caches_fit(size: tuple[int, int], view_scale: float) -> bool:
    """Whether caches for a document of `size` at this view scale stay within MAX_CACHE_PIXELS."""
    s = cache_scale(view_scale)
    return size[0] * s * size[1] * s <= MAX_CACHE_PIXELS


class _Cache:
    """One composite (QImage at `scale` x the document) and the part of it that is out of date."""

    def __init__(self, *, opaque: bool = False, props: bool = True) -> None:
        self.opaque = opaque  # the "below" cache: white under its layers, drawn without alpha
        self.props = props  # False: the layers at full opacity, hidden or not (the active layer's cache)
        self.image = QImage()
        self.scale = 1.0
        self.states: tuple[_LayerState, ...] | None = None
        self.stale = QRegion()  # in the image's pixels
        self.layers: list[Layer] = []
        self.images: list[QImage] = []
        self.mips: list[_Cache] | None = None  # zoomed out: each layer at the cache's scale, to copy from

    def reset(self, size: tuple[int, int], scale: float) -> None:
        self.states = None
        if not self.props and scale >= 1.0:  # a layer's own cache at 100 %: the layer itself
            self.image, self.scale, self.stale = QImage(), scale, QRegion()
            return
        w, h = (max(1, math.ceil(v * scale)) for v in size)
        fmt = QImage.Format.Format_RGB32 if self.opaque else QImage.Format.Format_ARGB32_Premultiplied
        self.image, self.scale = QImage(w, h, fmt), scale
        self.stale = QRegion(0, 0, w, h)

    def follow(
        self,
        layers: list[Layer],
        images: list[QImage],
        pending: Rect | None,
        everything: bool,
        mips: list[_Cache] | None = None,
    ) -> None:
        """Mark out of date what changed since the last time (`pending`: where the document said)."""
        states = _states(layers, self.props)
        if states != self.states:
            same_layers = self.states is not None and [s.layer for s in states] == [
                s.layer for s in self.states
            ]
            if everything or not same_layers:
                self.stale = QRegion(self.image.rect())
            elif pending is not None:  # None: nothing the flattened image shows (a hidden layer's opacity)
                self.stale = self.stale.united(self._to_cache(pending))
            self.states = states
        self.layers, self.images, self.mips = layers, images, mips

    def _to_cache(self, rect: Rect) -> QRect:
        """The cache pixels that doc `rect` touches (one pixel more each side for smoothing)."""
        s = self.scale
        left, top = math.floor(rect[0] * s) - 1, math.floor(rect[1] * s) - 1
        right, bottom = math.ceil(rect[2] * s) + 1, math.ceil(rect[3] * s) + 1
        return QRect(left, top, right - left, bottom - top).intersected(self.image.rect())

    def refresh(self, area: Rect) -> None:
        """Redraw the out-of-date part of the cache under doc `area`."""
        needed = self.stale.intersected(self._to_cache(area))
        if needed.isEmpty():
            return
        self.stale = self.stale.subtracted(needed)
        self._draw(needed.boundingRect())

    def _draw(self, part: QRect) -> None:
        s = self.scale
        p = QPainter(self.image)
        p.setClipRect(part)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        p.fillRect(part, Qt.GlobalColor.white if self.opaque else Qt.GlobalColor.transparent)
        p.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        if self.mips is not None:
            self._draw_from_mips(p, part, self.mips)
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, s < 1.0)
        margin = 2.0 / s  # source pixels around the part, so smoothing at its edges sees its neighbours
        doc_area = (
            math.floor(part.left() / s - margin),
            math.floor(part.top() / s - margin),
            math.ceil((part.right() + 1) / s + margin),
            math.ceil((part.bottom() + 1) / s + margin),
        )
        for layer, img in zip(self.layers, self.images, strict=True):
            src = intersect_rect(layer.bounds, doc_area) if layer.shows or not self.props else None
            if src is None:
                continue
            sl, st, sr, sb = src
            p.setOpacity(layer.opacity if self.props else 1.0)
            p.drawImage(
                QRectF(sl * s, st * s, (sr - sl) * s, (sb - st) * s), img, QRectF(sl, st, sr - sl, sb - st)
            )
        p.end()

    def _draw_from_mips(self, p: QPainter, part: QRect, mips: list[_Cache]) -> None:
        """Compose `part` from the layers' own caches at this scale: unscaled copies."""
        s = self.scale
        doc_area = (
            math.floor(part.left() / s),
            math.floor(part.top() / s),
            math.ceil((part.right() + 1) / s),
            math.ceil((part.bottom() + 1) / s),
        )
        for layer, mip in zip(self.layers, mips, strict=True):
            if layer.shows and intersect_rect(layer.bounds, doc_area) is not None:
                mip.refresh(doc_area)
                p.setOpacity(layer.opacity)
                p.drawImage(part, mip.image, part)

    def shows_anything(self) -> bool:
        """Whether the cache is worth drawing (the opaque one always is: its white)."""
        return self.opaque or any(x.shows if self.props else x.bounds is not None for x in self.layers)


class StackComposite:
    """The caches of one view. Tell it what changed (`changed`), then `prepare` before drawing and
    draw `below`, `active` (None: draw the layer from its array) and `above` (None: nothing shows)."""

    def __init__(self) -> None:
        self._below, self._above = _Cache(opaque=True), _Cache()
        self._active: _Cache | None = None  # the active layer's mip (None: drawn from its array)
        self._mips: dict[str, _Cache] = {}  # zoomed out: each layer at the view's scale, by uid
        self._pending: Rect | None = None
        self._everything = True
        self._size = (0, 0)
        self._scale = 0.0

    def changed(self, rect: Rect | None) -> None:
        """The document changed in `rect` (None: anywhere, maybe its size)."""
        if rect is None:
            self._everything = True
        else:
            self._pending = union_rect(self._pending, rect)

    def prepare(
        self,
        layers: list[Layer],
        images: list[QImage],
        active: int,
        view_scale: float,
        area: Rect,
    ) -> None:
        """Bring the caches up to date under doc `area` for drawing at `view_scale`."""
        size = (layers[0].width, layers[0].height) if layers else (0, 0)
        scale = cache_scale(view_scale)
        if size != self._size or scale != self._scale:
            self._size, self._scale = size, scale
            self._mips.clear()
            for cache in (self._below, self._above):
                cache.reset(size, scale)
        mips = self._follow_mips(layers, images) if self._mips_fit(len(layers)) else None
        self._active = None if mips is None else mips[active]
        below, above = slice(0, active), slice(active + 1, len(layers))
        for cache, group in ((self._below, below), (self._above, above)):
            group_mips = None if mips is None else mips[group]
            cache.follow(layers[group], images[group], self._pending, self._everything, group_mips)
        self._pending, self._everything = None, False
        for cache in (self._below, self._above):
            if cache.shows_anything():
                cache.refresh(area)
        if self._active is not None and self._active.shows_anything():
            self._active.refresh(area)

    def _mips_fit(self, count: int) -> bool:
        """Zoomed out, with every layer's mip and the two composites within MIP_BUDGET_PIXELS."""
        w, h = self._size
        fit = self._scale < 1.0 and (count + 2) * w * h * self._scale**2 <= MIP_BUDGET_PIXELS
        if not fit:
            self._mips.clear()
        return fit

    def _follow_mips(self, layers: list[Layer], images: list[QImage]) -> list[_Cache]:
        """Each layer's own cache at the view's scale (made when first needed, dropped with the layer)."""
        mips = []
        for layer, img in zip(layers, images, strict=True):
            mip = self._mips.get(layer.uid)
            if mip is None:
                mip = self._mips[layer.uid] = _Cache(props=False)
                mip.reset(self._size, self._scale)
            mip.follow([layer], [img], self._pending, self._everything)
            mips.append(mip)
        kept = {x.uid for x in layers}
        for uid in [k for k in self._mips if k not in kept]:
            del self._mips[uid]
        return mips

    @property
    def scale(self) -> float:
        """The caches' scale (0 before the first `prepare`)."""
        return self._scale

    @property
    def below(self) -> QImage:
        return self._below.image

    @property
    def active(self) -> QImage | None:
        """The active layer at the view's scale when zoomed out (at full opacity), else None."""
        return None if self._active is None else self._active.image

    @property
    def above(self) -> QImage | None:
        return self._above.image if self._above.shows_anything() else None
