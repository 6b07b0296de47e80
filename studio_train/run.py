"""One command that reproduces studio-mini from scratch.

OMP_WAIT_POLICY=PASSIVE python -m studio_train --out studio/resources/models/studio-mini

The defaults are the shipped recipe: 58 minutes on 2 CPU threads (32% autoencoder, the rest
UNet + text encoder), or a GPU when one is present.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from pathlib import Path

import numpy as np

from studio_train import data as emoji_data
from studio_train.progress import Progress
from studio_train.tokenizer import (
    load_clip_tokenizer,
    mismatches,
    write_reduced_tokenizer,
)

log = logging.getLogger(__name__)

GRID_PROMPTS = (
    "red apple", "grinning face", "green apple", "purple heart", "sun", "fire", "cat face",
    "dog face", "rainbow", "ghost", "pile of poo", "rocket", "snowflake", "four leaf clover",
    "green heart", "blue heart", "banana", "pizza", "octopus", "hot beverage", "crystal ball",
    "alarm clock", "eggplant", "water wave",
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m studio_train", description=__doc__)
    p.add_argument("--out", type=Path, default=Path("studio/resources/models/studio-mini"))
    p.add_argument("--work", type=Path, default=Path("runs/studio-mini"), help="logs, grids")
    p.add_argument("--minutes", type=float, default=58.0, help="total time budget")
    p.add_argument("--ae-share", type=float, default=0.32, help="share of the budget for the AE")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N emoji")
    p.add_argument("--tiny", action="store_true", help="tiny dims (smoke tests)")
    p.add_argument("--max-steps", type=int, default=None, help="cap steps per phase")
    p.add_argument("--ae-batch", type=int, default=16)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=8e-4, help="UNet + text encoder learning rate")
    p.add_argument(
        "--no-bf16",
        action="store_true",
        help="no bf16 autocast for the AE on CPU (it is never used on a CPU without bf16 hardware)",
    )
    p.add_argument("--fp32", action="store_true", help="store weights in fp32")
    p.add_argument(
        "--no-checkpoints", action="store_true", help="no copies at 25/50/75%% of the diffusion phase"
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--tokenizer-src", type=Path, default=None)
    p.add_argument(
        "--refine-decoder",
        action="store_true",
        help="instead of training: refine the decoder of the model in --out (encoder frozen) "
        "for --minutes, re-save the VAE and latent_rgb.json",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    from studio.core.paths import clip_tokenizer_dir
    from studio_train import model as M  # noqa: N812
    from studio_train.autoencoder import cache_latents, train_autoencoder
    from studio_train.diffusion import tokenize_all, train_diffusion
    from studio_train.export import fit_latent_rgb, save_pipeline

    t0 = time.monotonic()
    budget = args.minutes * 60.0
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    progress = Progress(args.work)
    progress.note(f"device={device} threads={args.threads} minutes={args.minutes}")
    if args.refine_decoder:
        return refine_saved_decoder(args, device, progress)

    dims = M.Dims.tiny() if args.tiny else M.Dims()
    items, images = emoji_data.build_dataset(limit=args.limit)
    captions = [emoji_data.captions_for(it.name) for it in items]
    flat = [c for group in captions for c in group]
    src = args.tokenizer_src or clip_tokenizer_dir()
    tok_dir = write_reduced_tokenizer(flat, src, args.work / "tokenizer_src")
    tokenizer = load_clip_tokenizer(tok_dir, dims.text_positions)
    bad = mismatches(flat, load_clip_tokenizer(src), tokenizer)
    if bad:
        raise RuntimeError(f"reduced tokenizer differs on {len(bad)} captions, e.g. {bad[0]!r}")
    longest = max(len(tokenizer(c).input_ids) for c in flat)
    if longest > dims.text_positions:
        raise RuntimeError(f"a caption has {longest} tokens, over {dims.text_positions} positions")
    progress.note(f"{len(items)} emoji, {len(flat)} captions, vocab {len(tokenizer)}")
    (args.work / "names.json").write_text(json.dumps([it.name for it in items]), "utf-8")

    vae = M.build_autoencoder(dims).to(device)
    text_encoder = M.build_text_encoder(
        dims, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id
    ).to(device)
    unet = M.build_unet(dims).to(device)
    sizes = {k: M.n_params(m) for k, m in (("vae", vae), ("text", text_encoder), ("unet", unet))}
    progress.note(f"parameters: {sizes}, total {sum(sizes.values()) / 1e6:.2f}M")

    reserve = min(90.0, 0.06 * budget)  # caching, saving, latent_rgb, grid
    ae_s = args.ae_share * (budget - reserve)
    ae_stats = train_autoencoder(
        vae, images, seconds=ae_s, device=device, progress=progress, batch=args.ae_batch,
        bf16=use_bf16(args), max_steps=args.max_steps, seed=args.seed,
    )  # fmt: skip
    lat_mean, lat_std, scale = cache_latents(vae, images, device)
    vae.register_to_config(scaling_factor=scale)
    progress.note(f"latents cached, scaling_factor={scale:.4f}")

    ids, empty = tokenize_all(tokenizer, captions)
    diff_s = budget - reserve - (time.monotonic() - t0)
    train_sched = M.build_train_scheduler()

    def checkpoint(frac: float, unet_c: object, text_c: object) -> None:
        folder = args.work / f"checkpoint-{round(frac * 100):02d}"
        save_pipeline(folder, vae, text_c, tokenizer, tok_dir, unet_c, M.build_sample_scheduler())
        progress.note(f"checkpoint at {frac:.0%} of the diffusion phase: {folder}")

    unet_ema, text_ema, diff_stats = train_diffusion(
        unet, text_encoder, train_sched, lat_mean, lat_std, scale, ids, empty,
        seconds=max(diff_s, 1.0), device=device, progress=progress, batch=args.batch,
        lr=args.lr, max_steps=args.max_steps, seed=args.seed,
        checkpoint=None if args.no_checkpoints else checkpoint,
    )  # fmt: skip

    save_pipeline(
        args.out, vae, text_ema, tokenizer, tok_dir, unet_ema, M.build_sample_scheduler(),
        fp16=not args.fp32,
    )  # fmt: skip
    factors = fit_latent_rgb(vae, lat_mean, scale, device)
    (args.out / "latent_rgb.json").write_text(json.dumps(factors, indent=1) + "\n", "utf-8")
    summary = {
        "minutes": round((time.monotonic() - t0) / 60, 2),
        "threads": args.threads,
        "device": device,
        "n_emoji": len(items),
        "vocab": len(tokenizer),
        "params": sizes,
        "autoencoder": ae_stats,
        "diffusion": diff_stats,
        "scaling_factor": scale,
    }
    (args.work / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", "utf-8")
    write_sample_grid(args.out, args.work / "samples.png", device, args.seed)
    progress.note(f"finished in {summary['minutes']} min")
    return 0


def use_bf16(args: argparse.Namespace) -> bool:
    """bf16 autocast for the autoencoder: ~2x faster with AMX, 5-20x slower when emulated."""
    from studio.engine.device import cpu_has_native_bf16

    return not args.no_bf16 and cpu_has_native_bf16()


def refine_saved_decoder(args: argparse.Namespace, device: str, progress: Progress) -> int:
    """Second step for a model whose autoencoder got too little time (colour errors)."""
    import torch
    from diffusers import AutoencoderKL

    from studio_train.autoencoder import cache_latents, refine_decoder
    from studio_train.export import copy_as, fit_latent_rgb

    t0 = time.monotonic()
    _, images = emoji_data.build_dataset(limit=args.limit)
    vae = AutoencoderKL.from_pretrained(args.out / "vae", dtype=torch.float32).to(device)
    scale = float(vae.config.scaling_factor)
    seconds = args.minutes * 60.0 - min(60.0, 0.1 * args.minutes * 60.0)
    stats = refine_decoder(
        vae, images, seconds=seconds, device=device, progress=progress, batch=args.ae_batch,
        bf16=use_bf16(args), max_steps=args.max_steps, seed=args.seed,
    )  # fmt: skip
    copy_as(vae, torch.float32 if args.fp32 else torch.float16).save_pretrained(
        args.out / "vae", safe_serialization=True
    )
    lat_mean, _, _ = cache_latents(vae, images, device)
    factors = fit_latent_rgb(vae, lat_mean, scale, device)
    (args.out / "latent_rgb.json").write_text(json.dumps(factors, indent=1) + "\n", "utf-8")
    stats["minutes"] = round((time.monotonic() - t0) / 60, 2)
    (args.work / "refine_summary.json").write_text(json.dumps(stats, indent=1) + "\n", "utf-8")
    write_sample_grid(args.out, args.work / "samples_refined.png", device, args.seed)
    return 0


def write_sample_grid(folder: Path, path: Path, device: str, seed: int) -> None:
    """Generate the grid prompts with the saved folder (plain diffusers pipeline)."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    gen = torch.Generator(device).manual_seed(seed)
    out = pipe(
        list(GRID_PROMPTS), height=64, width=64, num_inference_steps=20, guidance_scale=4.0,
        generator=gen,
    ).images  # fmt: skip
    from studio_train.export import labelled_grid

    labelled_grid(out, list(GRID_PROMPTS)).save(path)
    log.info("sample grid: %s", path)
