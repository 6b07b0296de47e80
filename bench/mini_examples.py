"""Inpaint and outpaint examples of the built-in model, made through the real `studio-cli`.

Sources are Noto emoji renders (128 px, the training cache of `studio_train.v2`) and, for the case
v1 failed at, a photo-like gradient scene. Each row: the source, the mask (white = repainted) or the
extended canvas, and the CLI's result, labelled with the command's prompt. Pixels outside a mask are
kept exactly by Studio, so the rows show only what the model painted.

    python bench/mini_examples.py --out docs/studio-mini-edits.png [--model FOLDER] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/mini_examples.py`: studio_train lives in the checkout
    sys.path.insert(0, str(ROOT))

log = logging.getLogger("mini_examples")
SIZE = 128


@dataclass(frozen=True)
class Edit:
    """One CLI call: inpaint with a mask box, or outpaint to the right."""

    source: str  # a Noto concept name, or "" for the painted scene
    prompt: str
    box: tuple[int, int, int, int] | None = None  # inpaint: the masked rectangle
    right: int = 0  # outpaint: pixels added on the right
    seed: int = 1


EDITS = (
    Edit("red apple", "red apple", box=(64, 0, 128, 128)),
    Edit("grinning face", "grinning face", box=(0, 64, 128, 128)),
    Edit("grinning face", "red heart", box=(32, 32, 96, 96)),
    Edit("sun", "sun", right=64),
    Edit("", "sun", box=(40, 8, 88, 56)),  # a painted scene: the sky gets a sun, not a pasted patch
    Edit("", "deciduous tree", box=(16, 56, 64, 120)),
)


def noto_image(name: str) -> Image.Image:
    from studio_train.v2.dataset import build
    from studio_train.v2.fetch import DEFAULT_CACHE
    from studio_train.v2.sets import REFERENCE

    data = build(DEFAULT_CACHE).of_style(REFERENCE)
    names = [data.names[c] for c in data.concept]
    image = Image.fromarray(data.images[names.index(name)])
    return image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def painted_scene() -> Image.Image:
    """A flat 'landscape': sky gradient, green hill, brown ground (no emoji on white)."""
    y = np.linspace(0, 1, SIZE)[:, None, None]
    sky = np.array([110, 170, 235]) * (1 - y) + np.array([200, 225, 250]) * y
    scene = np.broadcast_to(sky, (SIZE, SIZE, 3)).copy()
    xs = np.arange(SIZE)
    hill = (90 + 12 * np.sin(xs / 18)).astype(int)
    for x, top in zip(xs, hill, strict=True):
        scene[top:, x] = (70, 140, 60)
    scene[118:] = (120, 85, 50)
    return Image.fromarray(scene.astype(np.uint8))


def run_cli(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "studio.cli", *args]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"studio-cli failed ({done.returncode}): {' '.join(args)}\n{done.stderr[-2000:]}")


def make_edit(edit: Edit, work: Path, index: int, common: list[str]) -> list[tuple[Image.Image, str]]:
    """The row of one edit: source, mask or canvas, result."""
    source = noto_image(edit.source) if edit.source else painted_scene()
    src_path, out_path = work / f"src{index}.png", work / f"out{index}.png"
    source.save(src_path)
    what = f"'{edit.source}'" if edit.source else "painted scene"
    if edit.box is not None:
        mask = Image.new("L", source.size, 0)
        ImageDraw.Draw(mask).rectangle((edit.box[0], edit.box[1], edit.box[2] - 1, edit.box[3] - 1), fill=255)
        mask_path = work / f"mask{index}.png"
        mask.save(mask_path)
        run_cli(["inpaint", "--image", str(src_path), "--mask", str(mask_path), "--prompt", edit.prompt,
                 "--seed", str(edit.seed), "--out", str(out_path), *common])  # fmt: skip
        shown = Image.composite(Image.new("RGB", source.size, "white"), source.convert("RGB"), mask)
        middle = (shown, "mask (white)")
        label = f"inpaint '{edit.prompt}'"
    else:
        run_cli(["outpaint", "--image", str(src_path), "--right", str(edit.right), "--prompt", edit.prompt,
                 "--seed", str(edit.seed), "--out", str(out_path), *common])  # fmt: skip
        canvas = Image.new("RGB", (SIZE + edit.right, SIZE), (200, 200, 200))
        canvas.paste(source.convert("RGB"), (0, 0))
        middle = (canvas, f"canvas +{edit.right} px right")
        label = f"outpaint '{edit.prompt}'"
    with Image.open(out_path) as result:
        return [(source.convert("RGB"), what), middle, (result.convert("RGB"), label)]


def sheet(rows: list[list[tuple[Image.Image, str]]], scale: int = 2) -> Image.Image:
    """Rows of (image, label) cells; cells are as wide as their image (outpaint rows are wider)."""
    from studio_train.export import label_font

    font = label_font(12)
    label_h, gap = 18, 8
    widths = [sum(im.width * scale + gap for im, _ in row) for row in rows]
    height = len(rows) * (SIZE * scale + label_h + gap)
    page = Image.new("RGB", (max(widths), height), "white")
    draw = ImageDraw.Draw(page)
    for r, row in enumerate(rows):
        x, y = 0, r * (SIZE * scale + label_h + gap)
        for image, label in row:
            page.paste(
                image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST), (x, y)
            )
            draw.text((x + 2, y + SIZE * scale + 2), label, fill="black", font=font)
            x += image.width * scale + gap
    return page


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs/studio-mini-edits.png")
    ap.add_argument("--model", default=None, help="default: the built-in model")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    common = ["--threads", str(args.threads), "--overwrite", *(["--model", args.model] if args.model else [])]
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for i, edit in enumerate(EDITS):
            rows.append(make_edit(edit, Path(tmp), i, common))
            log.info("%d/%d %s", i + 1, len(EDITS), rows[-1][-1][1])
    sheet(rows).save(args.out)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
