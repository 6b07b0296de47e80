"""Time per brush stroke segment on a 4096x4096 document (offscreen Qt), mask and colour brush.

Three levels per brush size: the numpy rasterization alone; the full tool path (rasterize, record the
dirty rect, copy it into the overlay QImage, schedule the widget rect); and that plus a synchronous
repaint of the dirty widget rect. Also the per-stroke costs (begin: mask backup; end: undo patch).

Layers (issue 12): the same for the colour brush on a document with 4 layers (the image and three
paint layers covering the canvas, the active one in the middle), and the cost of a layer change at
2048x2048 (hiding/showing a full-canvas layer; an opacity step): the view's repaint at fit and at
100 % (what the artist waits for) and the flattened image's update (what generation and export read).
Goals: a stroke segment and a layer change each within one frame (16 ms).

    QT_QPA_PLATFORM=offscreen python bench/bench_canvas.py [--size 4096] [--segments 300] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np


def _stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(math.ceil(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def _path(n: int, size: int, step: float) -> list[tuple[float, float]]:
    """A stroke circling inside the canvas, `step` document pixels between samples."""
    c, r = size / 2, size * 0.35
    return [(c + r * math.cos(i * step / r), c + r * math.sin(i * step / r)) for i in range(n + 1)]


def _time(fn: Callable[[int], None], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--segments", type=int, default=300)
    parser.add_argument("--layer-size", type=int, default=2048, help="canvas side for the layer-change case")
    parser.add_argument("--quick", action="store_true", help="small sizes, few segments (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.size, args.segments, args.layer_size = 512, 10, 256

    from PySide6.QtWidgets import QApplication

    from studio.core.document import Document
    from studio.ui.canvas import brush
    from studio.ui.canvas.view import CanvasView

    app = QApplication.instance() or QApplication([])
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    doc = Document.blank(args.size, args.size)
    view = CanvasView(doc)
    view.resize(1600, 1000)
    view.show()
    app.processEvents()
    n = args.segments
    rows = []
    for zoom in ("fit", "100%"):
        view.fit() if zoom == "fit" else view.actual_size()
        for diameter in (16, 64, 256, 1024):
            radius = diameter / 2
            step = max(2.0, diameter / 8)  # a fast hand: samples 1/8 brush apart
            pts = _path(n, args.size, step)
            mask = np.zeros((args.size, args.size), np.uint8)
            raster = _time(lambda i, m=mask, p=pts, r=radius: brush.paint_segment(m, p[i], p[i + 1], r), n)
            doc.clear_mask()
            view.tools.settings.size = diameter
            view.tools.settings.hardness = 0.8
            view.tools.press(pts[0])
            full = _time(lambda i, p=pts: view.tools.move(p[i + 1]), n)
            view.tools.release(pts[-1])
            app.processEvents()
            view.tools.press(pts[0])

            def with_paint(i: int, p: list = pts, r: float = radius) -> None:
                view.tools.move(p[i + 1])
                rect = brush.segment_rect(p[i], p[i + 1], r, args.size, args.size)
                if rect:
                    view.repaint(view.doc_rect_to_widget(rect))

            painted = _time(with_paint, n)
            t0 = time.perf_counter()
            view.tools.release(pts[-1])
            end = time.perf_counter() - t0
            rows.append((zoom, diameter, step, _stats(raster), _stats(full), _stats(painted), end * 1000))
            doc.clear_mask()
    t0 = time.perf_counter()
    doc.begin_stroke()
    begin = (time.perf_counter() - t0) * 1000
    doc.end_stroke()
    _print(args, rows, begin, view.scale)
    _bench_colour_strokes(args, app)
    _bench_layer_change(args.layer_size, app)
    _bench_autosave(doc)


BENCH_COLOUR = np.array([30, 30, 200, 255], np.uint8)  # premultiplied BGRA


def _four_layers(size: int):  # type: ignore[no-untyped-def]
    """A document with the image and three paint layers that cover the canvas (worst case for
    compositing: every layer is drawn everywhere); the middle paint layer is active."""
    from studio.core.document import Document
    from studio.core.layers import Layer, LayerKind

    rng = np.random.default_rng(0)
    doc = Document(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    for i in range(2):
        layer = Layer.empty(f"Cover {i}", size, size, LayerKind.PAINT)
        layer.pixels[:] = (40 * i, 60, 90, 160)  # premultiplied, semi-transparent everywhere
        layer.touched((0, 0, size, size))
        doc.add_layer(layer=layer)
    doc.layers[1].pixels[:] = (10, 20, 30, 120)
    doc.layers[1].touched((0, 0, size, size))
    doc.set_active(2)
    doc.image  # noqa: B018 - bring the cached flattened image up to date
    return doc


def _bench_colour_strokes(args: argparse.Namespace, app: object) -> None:
    from studio.ui.canvas import brush
    from studio.ui.canvas.tools import Tool
    from studio.ui.canvas.view import CanvasView

    doc = _four_layers(args.size)
    view = CanvasView(doc)
    view.resize(1600, 1000)
    view.show()
    app.processEvents()  # type: ignore[attr-defined]
    view.set_tool(Tool.PAINT)
    view.tools.settings.colour, view.tools.settings.opacity = (200, 30, 30), 0.8
    n, rows = args.segments, []
    for zoom in ("fit", "100%"):
        view.fit() if zoom == "fit" else view.actual_size()
        for diameter in (16, 64, 256, 1024):
            radius, step = diameter / 2, max(2.0, diameter / 8)
            pts = _path(n, args.size, step)
            layer = doc.active_layer
            coverage = np.zeros((args.size, args.size), np.uint8)

            def raster(
                i: int,
                p: list = pts,
                r: float = radius,
                c: np.ndarray = coverage,
                px: np.ndarray = layer.pixels,
            ) -> None:
                rect = brush.paint_segment(c, p[i], p[i + 1], r, hardness=0.8, strength=0.8)
                if rect:
                    before = px[rect[1] : rect[3], rect[0] : rect[2]].copy()
                    brush.colour_segment(px, before, c, rect, BENCH_COLOUR)

            numpy_only = _time(raster, n)
            tiled_px, tiled_cov = layer.pixels.copy(), np.zeros((args.size, args.size), np.uint8)
            saved = tiled_px.copy()  # the pixels before the stroke

            def tiled(
                i: int,
                p: list = pts,
                r: float = radius,
                c: np.ndarray = tiled_cov,
                px: np.ndarray = tiled_px,
                saved: np.ndarray = saved,
            ) -> None:
                brush.paint_colour_segment(
                    px,
                    c,
                    lambda rect: saved[rect[1] : rect[3], rect[0] : rect[2]],
                    p[i],
                    p[i + 1],
                    r,
                    BENCH_COLOUR,
                    hardness=0.8,
                    strength=0.8,
                )

            tiled_only = _time(tiled, n)
            del tiled_px, saved, tiled_cov
            view.tools.settings.size = diameter
            view.tools.press(pts[0])
            full = _time(lambda i, p=pts: view.tools.move(p[i + 1]), n)
            view.tools.release(pts[-1])
            app.processEvents()  # type: ignore[attr-defined]
            view.tools.press(pts[0])

            def with_paint(i: int, p: list = pts, r: float = radius) -> None:
                view.tools.move(p[i + 1])
                rect = brush.segment_rect(p[i], p[i + 1], r, args.size, args.size)
                if rect:
                    view.repaint(view.doc_rect_to_widget(rect))

            painted = _time(with_paint, n)
            t0 = time.perf_counter()
            view.tools.release(pts[-1])
            end = time.perf_counter() - t0
            rows.append(
                (
                    zoom,
                    diameter,
                    step,
                    _stats(numpy_only),
                    _stats(tiled_only),
                    _stats(full),
                    _stats(painted),
                    end * 1000,
                )
            )
            doc.undo()
            doc.undo()
    print()
    print("### Colour brush")
    print(f"Colour brush on a {args.size}x{args.size} document with 4 full-canvas layers (ms; median / p95;")
    print(
        " 'whole rect' = rasterize + blend the segment's whole rect (before); 'tiled' = only the tiles whose"
    )
    print(" coverage can go up (now; same pixels); 'tool' = tiled + record the dirty rect; '+paint' = and")
    print(" repaint it: below/active/above composites)")
    _table(rows, ("whole rect", "tiled", "tool", "+paint"))
    ratios = [f"{z} {d}px {a[0] / max(b[0], 1e-9):.1f}x" for z, d, _, a, b, *_ in rows if d >= 256]
    print("whole rect / tiled, medians: " + ", ".join(ratios))
    t0 = time.perf_counter()
    doc.begin_stroke(doc.active_layer)
    begin = (time.perf_counter() - t0) * 1000
    doc.end_stroke()
    print(f"begin colour stroke (tile backup set-up, no copy): {begin:.2f} ms")
    view.close()


def _bench_layer_change(size: int, app: object) -> None:
    """Hide/show a full-canvas layer and step its opacity: the repaint the artist sees, drawing every
    layer (before) and from the cached composites below and above the active layer (now), and the
    update of the flattened image that generation and export read."""
    from studio.ui.canvas.view import CanvasView

    doc = _four_layers(size)
    view = CanvasView(doc)
    view.resize(1600, 1000)
    view.show()
    app.processEvents()  # type: ignore[attr-defined]
    reps = 15
    print()
    print("### Layer change")
    print(f"Layer change on a {size}x{size} document with 4 full-canvas layers, the view 1600x1000")
    print("(ms; wall median / p95, CPU median: process time, Qt's scaling threads included)")
    print(f"{'zoom':>5} {'change':<30} | {'every layer':>21} | {'cached composites':>21} | ratio")

    def toggle(i: int) -> None:
        doc.set_layer_visible(2, i % 2 == 1)
        view.repaint()

    def opacity(i: int) -> None:
        doc.set_layer_opacity(2, 0.3 + 0.02 * (i % 20))
        view.repaint()

    def below(i: int) -> None:
        doc.set_layer_visible(1, i % 2 == 1)
        view.repaint()

    def stroke_repaint(i: int) -> None:
        view.repaint()

    cases = (
        ("hide/show the active layer", toggle),
        ("opacity step, active layer", opacity),
        ("hide/show a layer below it", below),
        ("repaint, nothing changed", stroke_repaint),
    )
    for zoom in ("fit", "100%"):
        view.fit() if zoom == "fit" else view.actual_size()
        for label, fn in cases:
            cells = []
            for cached in (False, True):
                view.cache_composites = cached
                doc.set_layer_visible(1, True)
                doc.set_layer_visible(2, True)  # the opacity steps act on a visible layer
                view.repaint()
                cpu: list[float] = []
                wall = _time(lambda i, f=fn, c=cpu: _cpu(f, i, c), reps)
                med, p95 = _stats(wall)
                cells.append((med, p95, statistics.median(cpu) * 1000))
            (a, ap, ac), (b, bp, bc) = cells
            print(
                f"{zoom:>5} {label:<30} | {a:6.2f} / {ap:6.2f}, {ac:5.2f} | {b:6.2f} / {bp:6.2f}, {bc:5.2f}"
                f" | {a / max(b, 1e-9):4.1f}x"
            )
    view.cache_composites = True

    def flattened(i: int) -> None:
        doc.set_layer_visible(2, i % 2 == 1)
        doc.image  # noqa: B018 - the cached flattened image brought up to date

    med, p95 = _stats(_time(flattened, 5))
    print(f"  flattened image update after hide/show (read on demand, not per frame): {med:.1f} / {p95:.1f}")
    view.close()


def _cpu(fn: Callable[[int], None], i: int, out: list[float]) -> None:
    t0 = time.process_time()
    fn(i)
    out.append(time.process_time() - t0)


def _table(rows: list, labels: tuple[str, ...] = ("numpy", "tool", "+paint")) -> None:
    header = (
        f"{'zoom':>5} {'brush px':>8} {'seg px':>6} | "
        + " | ".join(f"{x:>13}" for x in labels)
        + f" | {'end stroke':>10}"
    )
    print(header)
    print("-" * len(header))
    for zoom, diameter, step, *timed, end in rows:
        cells = " | ".join(f"{a:6.2f}/{b:6.2f}" for a, b in timed)
        print(f"{zoom:>5} {diameter:>8} {step:>6.0f} | {cells} | {end:10.2f}")


def _bench_autosave(doc: object) -> None:
    """What autosave costs the GUI thread (the snapshot copy) and the writer thread (PNG + rename).

    After an image change (an accepted result: image + mask, worst case with a noise image) and
    after a mask-only edit (the usual case: the image file from before is kept).
    """
    import tempfile
    from pathlib import Path

    from studio.ui.canvas.autosave import AutosaveWriter

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        writer = AutosaveWriter(Path(tmp))
        for label, edit in (
            (
                "image changed (noise)",
                lambda: doc.apply_image(rng.integers(0, 256, doc.image.shape, np.uint8)),
            ),  # type: ignore[attr-defined]
            ("mask-only edit", lambda: doc.invert_mask()),  # type: ignore[attr-defined]
        ):
            edit()
            t0 = time.perf_counter()
            writer.save(doc)  # type: ignore[arg-type]
            gui = time.perf_counter() - t0
            writer.flush()
            total = time.perf_counter() - t0
            print(f"autosave, {label}: GUI thread {gui * 1000:.1f} ms, background write {total:.2f} s")
        writer.close_clean()


def _print(args: argparse.Namespace, rows: list, begin_ms: float, scale: float) -> None:
    print("### Mask brush")
    print(f"Canvas stroke segments on a {args.size}x{args.size} document, {args.segments} segments each")
    print("(ms; median / p95; 'tool' = rasterize + record the dirty rect; '+paint' = and repaint it,")
    print(" which copies the dirty rect into the overlay QImage and draws it)")
    _table(rows)
    print(f"begin stroke (mask backup): {begin_ms:.2f} ms")


if __name__ == "__main__":
    main()
