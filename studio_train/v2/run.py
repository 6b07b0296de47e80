"""`python -m studio_train.v2`: train studio-mini v2, resumable.

    OMP_WAIT_POLICY=PASSIVE python -m studio_train.v2 --work runs/studio-mini-v2 --threads 1

The first call writes the recipe to WORK/config.json and starts; every later call with the same
--work resumes from the newest checkpoint in WORK/checkpoints (SIGTERM/Ctrl-C checkpoint first).
Progress: WORK/progress.json, steps.csv, notes.txt; learning curve: WORK/curve.csv. When the run
is done the EMA model is exported to WORK/model (a standard diffusers folder, fp16).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from studio_train.v2.config import Config
from studio_train.v2.fetch import DEFAULT_CACHE

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m studio_train.v2", description=__doc__.split("\n")[0])
    p.add_argument("--work", type=Path, default=Path("runs/studio-mini-v2"))
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="npm tarballs, renders, text cache")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1")
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--eval-minutes", type=float, default=30.0, help="quick eval interval (0: never)")
    p.add_argument("--stop-at", type=int, default=None, help="checkpoint and stop at this global step")
    p.add_argument(
        "--final-stage-steps", type=int, default=None,
        help="change the steps of the last UNet stage (to extend a run: identical to having asked "
        "for it from the start as long as the cool-down has not begun)",
    )  # fmt: skip
    p.add_argument(
        "--export", type=Path, default=None, help="only export the latest checkpoint's EMA model here"
    )
    p.add_argument(
        "--snapshot", type=int, default=None, help="with --export: the EMA UNet of this snapshot step"
    )
    p.add_argument("--no-bf16", action="store_true", help="no bf16 autocast for the autoencoder")
    new = p.add_argument_group("recipe of a new run (ignored when resuming)")
    new.add_argument("--tiny", action="store_true", help="tiny dims and data (smoke tests)")
    new.add_argument("--limit", type=int, default=None, help="only the first N concepts")
    new.add_argument("--seed", type=int, default=0)
    new.add_argument("--ae-steps", type=int, default=None)
    new.add_argument("--stages", default=None, help="UNet stages SIZE:STEPS,..., e.g. 64:4000,128:4000")
    new.add_argument("--batch", type=int, default=None)
    new.add_argument("--lr", type=float, default=None)
    return p.parse_args(argv)


def recipe(args: argparse.Namespace) -> Config:
    path = args.work / "config.json"
    if path.exists():
        cfg = Config.load(path)
    else:
        cfg = Config.tiny_test() if args.tiny else Config()
        cfg.seed, cfg.limit = args.seed, args.limit if args.limit is not None else cfg.limit
        if args.ae_steps is not None:
            cfg.ae_steps = args.ae_steps
        if args.stages:
            cfg.stages = [[int(a), int(b)] for a, b in (part.split(":") for part in args.stages.split(","))]
        if args.batch is not None:
            cfg.batch = args.batch
        if args.lr is not None:
            cfg.lr = args.lr
    if args.final_stage_steps is not None:
        cfg.stages[-1][1] = args.final_stage_steps
    args.work.mkdir(parents=True, exist_ok=True)
    cfg.save(path)
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = recipe(args)
    from studio_train.v2.trainer import Trainer

    data, text = load_inputs(cfg, args.cache)
    trainer = Trainer(cfg, args.work, data, text, device=device, bf16=use_bf16(args, device))
    resumed = trainer.resume()
    if args.export is not None:
        if not resumed or trainer.phase in ("ae", "latents"):
            log.error("no checkpoint with a trained UNet in %s", args.work)
            return 1
        if args.snapshot is not None:
            load_snapshot(trainer, args.snapshot)
        export(trainer, args.export)
        return 0
    if trainer.phase == "done" and trainer.step < cfg.unet_steps:
        trainer.phase = "unet"  # the run was extended
    trainer.log.note(
        f"session: device={device} threads={args.threads} images={len(data)} {data.counts()} "
        f"resumed={resumed} at {trainer.phase} step {trainer.step}"
    )
    from studio_train.v2.quick_eval import QuickEval

    on_eval = QuickEval(args.work) if args.eval_minutes > 0 else None
    phase = trainer.run(
        checkpoint_s=args.checkpoint_minutes * 60, stop_at=args.stop_at, on_eval=on_eval,
        eval_s=args.eval_minutes * 60,
    )  # fmt: skip
    if phase == "done":
        export(trainer, args.work / "model")
    return 0


def load_snapshot(trainer, step: int) -> None:  # noqa: ANN001
    from studio_train.v2.shards import load_sharded

    weights = load_sharded(trainer.work / "snapshots" / f"{step:08d}")
    trainer.ema.load_state_dict({k: v.float() for k, v in weights.items()})


def use_bf16(args: argparse.Namespace, device: str) -> bool:
    if args.no_bf16:
        return False
    if device.startswith("cuda"):
        return True
    from studio.engine.device import cpu_has_native_bf16

    return cpu_has_native_bf16()


def load_inputs(cfg: Config, cache: Path):  # noqa: ANN201
    """The rendered emoji data and the cached MiniLM outputs of its captions."""
    import torch

    from studio_train.v2.dataset import PHRASINGS, build, captions_of
    from studio_train.v2.text import cached_encode
    from studio_train.v2.trainer import TextBank

    data = build(cache, size=cfg.image_size, limit=cfg.limit)
    flat = [c for group in captions_of(data) for c in group]
    encoded = torch.from_numpy(cached_encode(flat + [""], cache))
    return data, TextBank(encoded[:-1], encoded[-1], len(PHRASINGS))


def export(trainer, out: Path) -> None:  # noqa: ANN001
    """The EMA model as a standard diffusers folder (fp16) with latent_rgb.json."""
    import copy

    from studio_train.export import fit_latent_rgb
    from studio_train.v2.pipeline import export_folder, make_pipeline

    trainer.ensure_latents()
    vae = copy.deepcopy(trainer.vae).eval()
    size = export_folder(make_pipeline(vae, trainer.ema), out, trainer.data.names)
    mean, _ = trainer.latents[max(trainer.latents)]
    sample = mean[:: max(1, len(mean) // 512)]  # 512 latents fit the 4x3 map well; decoding all is slow
    factors = fit_latent_rgb(vae, sample, trainer.scale, trainer.device)
    (out / "latent_rgb.json").write_text(json.dumps(factors, indent=1) + "\n", "utf-8")
    from studio_train.v2.model_card import write_model_card

    write_model_card(trainer, out)
    trainer.log.note(f"exported {out} ({size / 1e6:.1f} MB)")
