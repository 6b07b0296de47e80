"""The periodic evaluation of a running training: median rank of the intended Noto image among
all Noto images for a fixed subset of plain names, at Studio's defaults (20 steps, DPM++ 2M Karras,
guidance 7), at the stage's image size. One row per call in curve.csv."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio_train.v2.retrieval import features, ranks, summary
from studio_train.v2.sets import REFERENCE

if TYPE_CHECKING:
    from studio_train.v2.trainer import Trainer

log = logging.getLogger(__name__)
HEADER = "wall_time,global_step,phase_step,size,train_hours,median_rank,top1,top5,n,eval_s\n"


class QuickEval:
    def __init__(self, work: Path, n_prompts: int = 48, steps: int = 20, guidance: float = 7.0) -> None:
        self.csv = work / "curve.csv"
        if not self.csv.exists():
            self.csv.write_text(HEADER, encoding="utf-8")
        self.n_prompts, self.steps, self.guidance = n_prompts, steps, guidance
        self._text: tuple[Any, Any] | None = None

    def __call__(self, trainer: Trainer) -> dict[str, float]:
        import torch

        from studio_train.v2.pipeline import default_scheduler, make_pipeline
        from studio_train.v2.text import load_text_encoder, load_tokenizer

        t0 = time.monotonic()
        data = trainer.data.of_style(REFERENCE)
        _, size = trainer.cfg.stage_at(max(0, trainer.step - 1))
        pick = np.linspace(0, len(data) - 1, min(self.n_prompts, len(data))).round().astype(int)
        prompts = [data.names[c] for c in data.concept[pick]]
        bank = features(data.images)
        if self._text is None:
            self._text = (load_text_encoder(), load_tokenizer())
        vae = copy.deepcopy(trainer.vae).eval()
        pipe = make_pipeline(vae, trainer.ema, *self._text)
        pipe.scheduler = default_scheduler(pipe.scheduler.config)
        images = []
        for i in range(0, len(prompts), 16):
            part = prompts[i : i + 16]
            gens = [torch.Generator("cpu").manual_seed(i + j) for j in range(len(part))]
            with torch.no_grad():
                out = pipe(
                    part, height=size, width=size, num_inference_steps=self.steps,
                    guidance_scale=self.guidance, generator=gens, output_type="np",
                ).images  # fmt: skip
            images.append((out * 255).round().astype(np.uint8))
        gen = np.concatenate(images)
        if gen.shape[1] != data.images.shape[1]:
            from PIL import Image

            full = data.images.shape[1]
            gen = np.stack(
                [np.asarray(Image.fromarray(im).resize((full, full), Image.Resampling.BICUBIC)) for im in gen]
            )
        result = summary(ranks(gen, pick.tolist(), bank))
        elapsed = time.monotonic() - t0
        row = [
            time.strftime("%Y-%m-%dT%H:%M:%S"), trainer.global_step(), trainer.step, size,
            round(trainer.train_seconds / 3600, 3), result["median_rank"], round(result["top1"], 1),
            round(result["top5"], 1), int(result["n"]), round(elapsed, 1),
        ]  # fmt: skip
        with self.csv.open("a", encoding="utf-8") as f:
            f.write(",".join(str(v) for v in row) + "\n")
        trainer.log.note(f"quick eval at unet step {trainer.step} ({size}px): {result} in {elapsed:.0f}s")
        save_snapshot(trainer)
        return result


def save_snapshot(trainer: Trainer) -> Path:
    """The EMA UNet (fp16, sharded) at this step, for learning curves of the full evaluation
    (`python -m studio_train.v2 --export OUT --snapshot STEP`)."""
    from studio_train.v2.shards import save_sharded

    folder = trainer.work / "snapshots" / f"{trainer.global_step():08d}"
    save_sharded({k: v.half() for k, v in trainer.ema.state_dict().items()}, folder)
    return folder
