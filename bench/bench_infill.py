"""Infill and seam-check speed (issue 12): a photo-like picture outpainted on every side.

Each infill method as Studio runs it (`core.infill.infill`: OpenCV at reduced resolution plus a
full-resolution band along the join) next to OpenCV's inpainting at full resolution, interleaved;
then the seam measure and the colour-matched fix on the same grown image.

    python bench/bench_infill.py [--size 512] [--extend 128] [--reps 5] [--quick]
"""

from __future__ import annotations

import argparse

import _common as c
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512, help="the picture's side, px")
    parser.add_argument("--extend", type=int, default=128, help="px added on every side")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a 128 px picture, 2 reps (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.size, args.extend, args.reps = 128, 32, 2

    import cv2

    from studio.core.infill import INFILL_METHODS, infill
    from studio.core.seams import blend_seam, measure_seam
    from tests.core.pictures import photo

    c.print_header("Infill and seam check", import_libs=False)
    side, pad = args.size, args.extend
    grown = np.pad(photo(side, side), ((pad, pad), (pad, pad), (0, 0)))
    hole = np.ones(grown.shape[:2], bool)
    hole[pad : pad + side, pad : pad + side] = False
    hole_u8 = hole.astype(np.uint8) * 255

    cases = {method: (lambda m=method: infill(grown, hole, m)) for method in INFILL_METHODS}
    cases["telea, full resolution"] = lambda: cv2.inpaint(grown, hole_u8, 3, cv2.INPAINT_TELEA)
    cases["ns, full resolution"] = lambda: cv2.inpaint(grown, hole_u8, 3, cv2.INPAINT_NS)
    filled = infill(grown, hole, "telea")
    mask = np.where(hole, 255, 0).astype(np.uint8)
    cases["measure_seam"] = lambda: measure_seam(filled, filled, mask)
    cases["blend_seam"] = lambda: blend_seam(filled, filled, mask)
    samples = c.interleave(cases, args.reps)

    full = {"telea": samples["telea, full resolution"].median, "ns": samples["ns, full resolution"].median}
    rows = []
    for name, s in samples.items():
        speedup = f"{full[name] / s.median:.1f}x faster" if name in full else ""
        rows.append([name, c.fmt_s(s.median), f"{s.spread * 100:.0f} %", speedup])
    size = f"{side}x{side} + {pad} px each side = {grown.shape[1]}x{grown.shape[0]}"
    c.print_table(f"Infill, {size}, median of {args.reps}", ["case", "median", "spread", "vs full res"], rows)


if __name__ == "__main__":
    main()
