"""Time per brush stroke segment on a 4096x4096 document (offscreen Qt).

Three levels per brush size: the numpy rasterization alone; the full tool path (rasterize, record the
dirty rect, copy it into the overlay QImage, schedule the widget rect); and that plus a synchronous
repaint of the dirty widget rect. Also the per-stroke costs (begin: mask backup; end: undo patch).

    QT_QPA_PLATFORM=offscreen python bench/bench_canvas.py [--size 4096] [--segments 300]
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
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from studio.core.document import Document
    from studio.ui.canvas import brush
    from studio.ui.canvas.view import CanvasView

    app = QApplication.instance() or QApplication([])
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
    _bench_autosave(doc)


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
    print(f"Canvas stroke segments on a {args.size}x{args.size} document, {args.segments} segments each")
    print("(ms; median / p95; 'tool' = rasterize + record the dirty rect; '+paint' = and repaint it,")
    print(" which copies the dirty rect into the overlay QImage and draws it)")
    header = (
        f"{'zoom':>5} {'brush px':>8} {'seg px':>6} | {'numpy':>13} | {'tool':>13} | {'+paint':>13} | "
        f"{'end stroke':>10}"
    )
    print(header)
    print("-" * len(header))
    for zoom, diameter, step, raster, full, painted, end in rows:
        cells = " | ".join(f"{a:6.2f}/{b:6.2f}" for a, b in (raster, full, painted))
        print(f"{zoom:>5} {diameter:>8} {step:>6.0f} | {cells} | {end:10.2f}")
    print(f"begin stroke (mask backup): {begin_ms:.2f} ms")


if __name__ == "__main__":
    main()
