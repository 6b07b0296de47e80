"""Evaluate the built-in model studio-mini by retrieval among all training images.

For each name in bench/eval_mini_prompts.txt: generate one 64x64 image (fixed seed, plain
diffusers StableDiffusionPipeline loaded from the model folder) at Studio's default settings
(those of a new GenerationRequest: steps, guidance, scheduler - DPM++ 2M Karras),
then rank the intended emoji among ALL training images by L2 distance of 16x16 box-downsampled
RGB pixels (values in [0,1]). Reports top-1 / top-5 at the shipped guidance and at 1.0 (no
guidance), time per image, an inpainting check (right half masked, 20 emoji), a colour check
(hue error of autoencoder reconstructions, colour families of generated images), and writes a
labelled grid to docs/studio-mini-samples.png.

    python bench/eval_mini.py [--model studio/resources/models/studio-mini] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.request import GenerationRequest

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = GenerationRequest()  # the settings an artist gets without touching anything
FEATURE = 16  # feature space: 16x16 box-downsampled RGB, L2


def features(images: np.ndarray) -> np.ndarray:
    small = [
        np.asarray(Image.fromarray(im).resize((FEATURE, FEATURE), Image.Resampling.BOX)) for im in images
    ]
    return np.stack(small).reshape(len(images), -1).astype(np.float32) / 255.0


def ranks(generated: np.ndarray, targets: list[int], bank: np.ndarray) -> list[int]:
    """0-based rank of the intended training image for each generated image."""
    f = features(generated)
    d = ((f[:, None, :] - bank[None, :, :]) ** 2).sum(-1)
    return [int((d[i] < d[i, t]).sum()) for i, t in enumerate(targets)]


def topk(rs: list[int], k: int) -> float:
    return 100.0 * sum(r < k for r in rs) / len(rs)


def generate(pipe, prompts: list[str], guidance: float, steps: int, seed0: int, chunk: int = 24):  # noqa: ANN001
    """Images for the prompts, in batches; image i always uses seed seed0 + i."""
    import torch

    out = []
    for s in range(0, len(prompts), chunk):
        part = prompts[s : s + chunk]
        gens = [torch.Generator("cpu").manual_seed(seed0 + s + i) for i in range(len(part))]
        imgs = pipe(
            part, height=64, width=64, num_inference_steps=steps, guidance_scale=guidance,
            generator=gens,
        ).images  # fmt: skip
        out += [np.asarray(im.convert("RGB")) for im in imgs]
    return np.stack(out)


def time_per_image(pipe, prompts: list[str], guidance: float, steps: int) -> float:  # noqa: ANN001
    """Seconds for one image (batch 1) at the default settings, median of the calls."""
    import torch

    times = []
    for i, p in enumerate(prompts):
        t = time.perf_counter()
        pipe(
            p, height=64, width=64, num_inference_steps=steps, guidance_scale=guidance,
            generator=torch.Generator("cpu").manual_seed(i),
        )  # fmt: skip
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def inpaint_check(pipe, names, idx, images, bank, guidance, steps, n=20):  # noqa: ANN001, ANN201
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    inp = StableDiffusionInpaintPipeline.from_pipe(pipe)
    inp.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    inp.set_progress_bar_config(disable=True)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (32, 0, 64, 64))
    sel = list(range(0, len(names), max(1, len(names) // n)))[:n]
    result = inp(
        [names[j] for j in sel], image=[Image.fromarray(images[idx[j]]) for j in sel],
        mask_image=[mask] * len(sel), height=64, width=64, num_inference_steps=steps,
        guidance_scale=guidance, generator=[torch.Generator("cpu").manual_seed(1000 + j) for j in sel],
    ).images  # fmt: skip
    outs = [np.asarray(img.convert("RGB")) for img in result]
    rs = ranks(np.stack(outs), [idx[j] for j in sel], bank)
    return sum(r < 5 for r in rs), len(sel), np.stack(outs), [names[j] for j in sel]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "studio/resources/models/studio-mini")
    ap.add_argument("--prompts", type=Path, default=ROOT / "bench/eval_mini_prompts.txt")
    ap.add_argument("--guidance", type=float, default=DEFAULTS.guidance)
    ap.add_argument("--steps", type=int, default=DEFAULTS.steps)
    ap.add_argument("--scheduler", default=DEFAULTS.scheduler, help="a Studio scheduler name")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sweep", default="", help="extra guidance values, e.g. 2,3,6 (top-k only)")
    ap.add_argument("--quick", action="store_true", help="only the top-k table (learning curves)")
    ap.add_argument("--grid", type=Path, default=ROOT / "docs/studio-mini-samples.png")
    ap.add_argument("--json", type=Path, default=None, help="write results here too")
    args = ap.parse_args()

    import torch
    from diffusers import StableDiffusionPipeline

    from studio.engine.schedulers import create_scheduler
    from studio_train.autoencoder import reconstruct
    from studio_train.colour import family_accuracy, hue_error
    from studio_train.data import build_dataset
    from studio_train.export import labelled_grid

    torch.set_num_threads(args.threads)
    items, images = build_dataset()
    all_names = [it.name for it in items]
    names = [ln.strip() for ln in args.prompts.read_text("utf-8").splitlines() if ln.strip()]
    idx = [all_names.index(n) for n in names]
    bank = features(images)
    pipe = StableDiffusionPipeline.from_pretrained(args.model, local_files_only=True)
    pipe.scheduler = create_scheduler(args.scheduler, pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    pipe("warm-up", height=64, width=64, num_inference_steps=2)

    results: dict[str, object] = {"n_prompts": len(names), "n_bank": len(images)}
    print(
        f"{len(names)} prompts, bank of {len(images)} training images, {args.steps} steps, {args.scheduler}"
    )
    rows = []
    gen_main = None
    guidances = [args.guidance] + ([] if args.quick else [1.0])
    for g in guidances + [float(v) for v in args.sweep.split(",") if v]:
        imgs = generate(pipe, names, g, args.steps, seed0=0)
        rs = ranks(imgs, idx, bank)
        rows.append((g, topk(rs, 1), topk(rs, 5)))
        if gen_main is None:
            gen_main, main_ranks = imgs, rs
    for g, t1, t5 in rows:
        print(f"guidance {g:4.1f}: top-1 {t1:5.1f}%  top-5 {t5:5.1f}%  ({len(names)} prompts)")
    results["table"] = [dict(zip(("guidance", "top1", "top5"), r, strict=True)) for r in rows]
    if args.quick:
        return 0
    sec = time_per_image(pipe, names[:8], args.guidance, args.steps)
    print(f"time per image (batch 1, {args.steps} steps, guidance {args.guidance}): {sec * 1000:.0f} ms")
    results["s_per_image"] = sec

    ok, n, inp_imgs, inp_names = inpaint_check(pipe, names, idx, images, bank, args.guidance, args.steps)
    print(f"inpaint (right half masked, own name): {ok}/{n} still rank top-5")
    results["inpaint_top5"] = [ok, n]

    rec = reconstruct(pipe.vae, images, "cpu")
    hue = float(np.mean([hue_error(a, b) for a, b in zip(images, rec, strict=True)]))
    fam = family_accuracy(images, rec)
    print(f"autoencoder: mean hue error {hue:.1f} deg on saturated pixels; families kept:")
    print("  " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in fam.items()))
    gen_fam = family_accuracy(images[idx], gen_main)
    print(f"generated (guidance {args.guidance:.1f}) colour family = target's: ", end="")
    print(", ".join(f"{k} {a}/{b}" for k, (a, b) in gen_fam.items()))
    results["ae_hue_error_deg"] = hue
    results["ae_families"] = fam
    results["gen_families"] = gen_fam

    shown = list(range(0, len(names), 3))[:40]
    tiles = [Image.fromarray(gen_main[i]) for i in shown]
    labels = [f"{names[i]} (#{main_ranks[i] + 1})" for i in shown]
    tiles += [Image.fromarray(x) for x in inp_imgs[:8]]
    labels += [f"inpaint: {nm}" for nm in inp_names[:8]]
    labelled_grid(tiles, labels, cols=8).save(args.grid)
    print(f"grid: {args.grid} (label: prompt (rank of the intended emoji))")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
