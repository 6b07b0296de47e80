"""Evaluate the built-in model studio-mini (v2 bench) by retrieval among the training images.

Every image is generated with a plain diffusers StableDiffusionPipeline loaded from the model
folder, at Studio's defaults (those of a new GenerationRequest: 20 steps, DPM++ 2M Karras,
guidance 7), one fixed seed per prompt, at the model's native size. The intended emoji is ranked
among a bank of training images by L2 distance of 16x16 box-downsampled RGB (generated images
smaller than the bank are upscaled first). Reported:

- plain names (bench/eval_mini_prompts.txt) ranked among ALL Noto images: top-1, top-5, median rank;
- unseen phrasings of the same names ("a picture of a X", "X icon") and 30 hand-written
  synonyms (bench/eval_mini_synonyms.tsv), same bank;
- per style: "X, twemoji style" etc., ranked among that style's images;
- autoencoder hue error (degrees, saturated pixels) on the Noto images, colour families kept;
- inpainting identity: right half masked, own name, still top-5 (of 20);
- seconds per image (batch 1).

    python bench/eval_mini.py [--model FOLDER | --checkpoint runs/studio-mini-v2] [--threads 2]

`--checkpoint WORK` exports the newest checkpoint of a v2 training run first (to WORK/eval-model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/eval_mini.py`: studio_train lives in the checkout
    sys.path.insert(0, str(ROOT))

from studio.core.request import GenerationRequest  # noqa: E402

DEFAULTS = GenerationRequest()  # the settings an artist gets without touching anything
UNSEEN = ("a picture of a {}", "{} icon")


@dataclass
class Bank:
    """Images to rank against and their concept names (one bank per style)."""

    images: np.ndarray
    names: list[str]
    feats: np.ndarray

    def index(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None


def make_bank(data: Any, style: str) -> Bank:  # noqa: ANN401
    from studio_train.v2.retrieval import features

    sub = data.of_style(style)
    return Bank(sub.images, [data.names[c] for c in sub.concept], features(sub.images))


def generate(
    pipe: Any, prompts: list[str], size: int, guidance: float, steps: int, seed0: int = 0
) -> np.ndarray:  # noqa: ANN401
    """Images for the prompts, in batches; image i always uses seed seed0 + i."""
    import torch

    out = []
    for s in range(0, len(prompts), 16):
        part = prompts[s : s + 16]
        gens = [torch.Generator("cpu").manual_seed(seed0 + s + i) for i in range(len(part))]
        imgs = pipe(
            part, height=size, width=size, num_inference_steps=steps, guidance_scale=guidance, generator=gens
        ).images
        out += [np.asarray(im.convert("RGB")) for im in imgs]
    return np.stack(out)


def to_bank_size(images: np.ndarray, bank: Bank) -> np.ndarray:
    full = bank.images.shape[1]
    if images.shape[1] == full:
        return images
    return np.stack(
        [np.asarray(Image.fromarray(im).resize((full, full), Image.Resampling.BICUBIC)) for im in images]
    )


def score(pipe: Any, prompts: list[str], targets: list[str], bank: Bank, args: argparse.Namespace) -> dict:  # noqa: ANN401
    """Generate `prompts`, rank each image's intended concept in `bank`."""
    from studio_train.v2.retrieval import ranks, summary

    keep = [(p, bank.index(t)) for p, t in zip(prompts, targets, strict=True) if bank.index(t) is not None]
    images = generate(pipe, [p for p, _ in keep], args.size, args.guidance, args.steps)
    rs = ranks(to_bank_size(images, bank), [int(i) for _, i in keep], bank.feats)  # type: ignore[arg-type]
    return {**summary(rs), "images": images, "ranks": rs, "prompts": [p for p, _ in keep]}


def read_lines(path: Path) -> list[str]:
    lines = [ln.strip() for ln in path.read_text("utf-8").splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def inpaint_check(pipe: Any, bank: Bank, names: list[str], args: argparse.Namespace, n: int = 20) -> dict:  # noqa: ANN401
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    from studio_train.v2.retrieval import ranks

    inp = StableDiffusionInpaintPipeline.from_pipe(pipe)
    inp.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    inp.set_progress_bar_config(disable=True)
    size = args.size
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 2, 0, size, size))
    sel = [nm for nm in names if bank.index(nm) is not None][:: max(1, len(names) // n)][:n]
    sources = [Image.fromarray(bank.images[bank.index(nm)]).resize((size, size)) for nm in sel]  # type: ignore[index]
    result = inp(
        sel, image=sources, mask_image=[mask] * len(sel), height=size, width=size,
        num_inference_steps=args.steps, guidance_scale=args.guidance,
        generator=[torch.Generator("cpu").manual_seed(1000 + j) for j in range(len(sel))],
    ).images  # fmt: skip
    outs = np.stack([np.asarray(img.convert("RGB")) for img in result])
    rs = ranks(to_bank_size(outs, bank), [bank.index(nm) for nm in sel], bank.feats)  # type: ignore[misc]
    return {"ok": sum(r < 5 for r in rs), "n": len(sel), "images": outs, "names": sel}


def time_per_image(pipe: Any, prompts: list[str], args: argparse.Namespace) -> float:  # noqa: ANN401
    """Seconds for one image (batch 1) at the default settings, median of the calls."""
    import torch

    times = []
    for i, p in enumerate(prompts):
        t = time.perf_counter()
        pipe(
            p, height=args.size, width=args.size, num_inference_steps=args.steps,
            guidance_scale=args.guidance, generator=torch.Generator("cpu").manual_seed(i),
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def autoencoder_colour(pipe: Any, bank: Bank, size: int) -> dict:  # noqa: ANN401
    from studio_train.autoencoder import reconstruct
    from studio_train.colour import family_accuracy, hue_error

    images = bank.images
    if images.shape[1] != size:
        images = np.stack(
            [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BOX)) for im in images]
        )
    rec = reconstruct(pipe.vae.float(), images, "cpu")
    hue = float(np.mean([hue_error(a, b) for a, b in zip(images, rec, strict=True)]))
    return {"hue_error_deg": hue, "families": family_accuracy(images, rec)}


def export_checkpoint(work: Path) -> Path:
    out = work / "eval-model"
    cmd = [
        sys.executable,
        "-m",
        "studio_train.v2",
        "--work",
        str(work),
        "--export",
        str(out),
        "--threads",
        "1",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def load_pipe(folder: Path, args: argparse.Namespace) -> Any:  # noqa: ANN401
    from diffusers import StableDiffusionPipeline

    from studio.engine.schedulers import create_scheduler

    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    pipe.scheduler = create_scheduler(args.scheduler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    if args.size is None:
        args.size = int(pipe.unet.config.sample_size) * pipe.vae_scale_factor
    return pipe


def row(label: str, r: dict) -> str:
    return (
        f"{label:<34} top-1 {r['top1']:5.1f}%  top-5 {r['top5']:5.1f}%  median rank {r['median_rank']:6.1f}"
        f"  ({int(r['n'])} prompts)"
    )


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "studio/resources/models/studio-mini")
    ap.add_argument("--checkpoint", type=Path, default=None, help="a v2 training work folder")
    ap.add_argument("--prompts", type=Path, default=ROOT / "bench/eval_mini_prompts.txt")
    ap.add_argument("--synonyms", type=Path, default=ROOT / "bench/eval_mini_synonyms.tsv")
    ap.add_argument("--guidance", type=float, default=DEFAULTS.guidance)
    ap.add_argument("--steps", type=int, default=DEFAULTS.steps)
    ap.add_argument("--scheduler", default=DEFAULTS.scheduler, help="a Studio scheduler name")
    ap.add_argument("--size", type=int, default=None, help="default: the model's native size")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--per-style", type=int, default=40, help="prompts per other style")
    ap.add_argument("--quick", action="store_true", help="plain names only (learning curves)")
    ap.add_argument(
        "--grid", type=Path, default=None, help="labelled sample grid (e.g. docs/studio-mini-samples.png)"
    )
    ap.add_argument("--json", type=Path, default=None, help="write results here too")
    ap.add_argument("--cache", type=Path, default=None, help="studio_train cache (emoji renders)")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    import torch

    from studio_train.v2.dataset import build, caption
    from studio_train.v2.fetch import DEFAULT_CACHE
    from studio_train.v2.sets import REFERENCE, SETS

    torch.set_num_threads(args.threads)
    folder = export_checkpoint(args.checkpoint) if args.checkpoint else args.model
    data = build(args.cache or DEFAULT_CACHE)
    noto = make_bank(data, REFERENCE)
    pipe = load_pipe(folder, args)
    pipe("warm-up", height=args.size, width=args.size, num_inference_steps=2)
    names = read_lines(args.prompts)
    print(f"{folder}: {args.size}px, {args.steps} steps, {args.scheduler}, guidance {args.guidance}")
    print(f"bank: all {len(noto.names)} Noto images; {len(names)} plain names")
    results: dict[str, Any] = {
        "model": str(folder), "size": args.size, "n_noto": len(noto.names), "threads": args.threads,
    }  # fmt: skip
    plain = score(pipe, names, names, noto, args)
    print(row("plain names", plain))
    results["plain"] = plain
    if not args.quick:
        run_full(pipe, data, noto, names, args, results, caption, SETS)
    if args.grid:
        write_grid(args.grid, plain, results.get("inpaint"))
    if args.json:
        clean = {k: _jsonable(v) for k, v in results.items()}
        args.json.write_text(json.dumps(clean, indent=1) + "\n", "utf-8")
    return 0


def run_full(pipe, data, noto, names, args, results, caption, sets) -> None:  # noqa: ANN001
    for phrasing in UNSEEN:
        r = score(pipe, [phrasing.format(n) for n in names], names, noto, args)
        print(row(f'unseen "{phrasing}"', r))
        results[f"unseen {phrasing}"] = r
    pairs = [ln.split("\t") for ln in read_lines(args.synonyms)]
    r = score(pipe, [a for a, _ in pairs], [b for _, b in pairs], noto, args)
    print(row("hand-written synonyms", r))
    results["synonyms"] = r
    for s in sets:
        if s.prefix == "noto":
            continue
        bank = make_bank(data, s.prefix)
        pick = np.linspace(0, len(bank.names) - 1, min(args.per_style, len(bank.names))).round().astype(int)
        style_names = [bank.names[i] for i in pick]
        r = score(pipe, [caption(n, s.prefix) for n in style_names], style_names, bank, args)
        print(row(f"style {s.prefix} (own bank)", r))
        results[f"style {s.prefix}"] = r
    colour = autoencoder_colour(pipe, noto, args.size)
    print(
        f"autoencoder: mean hue error {colour['hue_error_deg']:.1f} deg on saturated pixels; families kept:"
    )
    print("  " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in colour["families"].items()))
    results["autoencoder"] = colour
    inp = inpaint_check(pipe, noto, names, args)
    print(f"inpaint (right half masked, own name): {inp['ok']}/{inp['n']} still rank top-5")
    results["inpaint"] = inp
    sec = time_per_image(pipe, names[:6], args)
    print(f"time per image (batch 1, {args.size}px, {args.steps} steps, {args.threads} threads): {sec:.2f} s")
    results["s_per_image"] = sec


def write_grid(path: Path, plain: dict, inpaint: dict | None) -> None:
    from studio_train.export import labelled_grid

    shown = list(range(0, len(plain["prompts"]), 3))[:40]
    tiles = [Image.fromarray(plain["images"][i]) for i in shown]
    labels = [f"{plain['prompts'][i]} (#{plain['ranks'][i] + 1})" for i in shown]
    if inpaint:
        tiles += [Image.fromarray(x) for x in inpaint["images"][:8]]
        labels += [f"inpaint: {nm}" for nm in inpaint["names"][:8]]
    labelled_grid(tiles, labels, cols=8, scale=1 if tiles[0].width >= 128 else 2).save(path)
    print(f"grid: {path} (label: prompt (rank of the intended emoji))")


def _jsonable(v: Any) -> Any:  # noqa: ANN401
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items() if k != "images"}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


if __name__ == "__main__":
    raise SystemExit(main())
