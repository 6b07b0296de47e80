"""A diffusers StableDiffusionPipeline from the trainer's live modules, and the exported folder."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from studio_train.v2.text import load_text_encoder, load_tokenizer

log = logging.getLogger(__name__)


def default_scheduler(config: dict[str, Any]) -> Any:  # noqa: ANN401
    """Studio's default sampler (a new GenerationRequest's scheduler: DPM++ 2M Karras)."""
    from studio.core.request import GenerationRequest
    from studio.engine.schedulers import create_scheduler

    return create_scheduler(GenerationRequest().scheduler, config)


def make_pipeline(vae: Any, unet: Any, text_encoder: Any = None, tokenizer: Any = None) -> Any:  # noqa: ANN401
    from diffusers import StableDiffusionPipeline

    from studio_train.v2.models import build_sample_scheduler

    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder if text_encoder is not None else load_text_encoder(),
        tokenizer=tokenizer if tokenizer is not None else load_tokenizer(), unet=unet,
        scheduler=build_sample_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def export_folder(pipe: Any, out: Path, concepts: list[str], fp16: bool = True) -> int:  # noqa: ANN401
    """Save `pipe` as a standard diffusers folder (+ concepts.json); returns its size in bytes."""
    import copy

    import torch

    dtype = torch.float16 if fp16 else torch.float32
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    parts = {k: copy.deepcopy(getattr(pipe, k)).to(dtype=dtype) for k in ("vae", "unet", "text_encoder")}
    saved = type(pipe)(
        **parts, tokenizer=pipe.tokenizer, scheduler=pipe.scheduler, safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    saved.save_pretrained(tmp, safe_serialization=True)
    cfg_path = tmp / "text_encoder" / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["use_attention_mask"] = True
    for key in ("dtype", "torch_dtype"):
        if key in cfg:
            cfg[key] = "float32"  # load in fp32 by default (transformers follows the stored dtype)
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    (tmp / "concepts.json").write_text(json.dumps({"names": concepts}, indent=0) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log.info("exported %s (%.1f MB)", out, size / 1e6)
    return size
