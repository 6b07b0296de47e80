"""Retrieval scoring shared by the periodic eval and bench/eval_mini.py: rank the intended image
among a bank by L2 distance of 16x16 box-downsampled RGB."""

from __future__ import annotations

import numpy as np
from PIL import Image

FEATURE = 16


def features(images: np.ndarray) -> np.ndarray:
    small = [
        np.asarray(Image.fromarray(im).resize((FEATURE, FEATURE), Image.Resampling.BOX)) for im in images
    ]
    return np.stack(small).reshape(len(images), -1).astype(np.float32) / 255.0


def ranks(generated: np.ndarray, targets: list[int], bank: np.ndarray) -> list[int]:
    """0-based rank of the intended bank image for each generated image."""
    f = features(generated)
    d = ((f[:, None, :] - bank[None, :, :]) ** 2).sum(-1)
    return [int((d[i] < d[i, t]).sum()) for i, t in enumerate(targets)]


def summary(rs: list[int]) -> dict[str, float]:
    n = max(1, len(rs))
    return {
        "top1": 100.0 * sum(r < 1 for r in rs) / n,
        "top5": 100.0 * sum(r < 5 for r in rs) / n,
        "median_rank": float(np.median(np.array(rs) + 1)) if rs else float("nan"),
        "n": float(len(rs)),
    }
