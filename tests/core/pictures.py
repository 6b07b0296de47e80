"""Synthetic pictures for the core tests (no files needed)."""

from __future__ import annotations

import numpy as np


def photo(width: int = 512, height: int = 512, seed: int = 0) -> np.ndarray:
    """A photo-like picture: a sky gradient over textured ground, a sun, a dark tree; no pure white."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = np.stack([90 + 60 * y / height, 140 + 50 * y / height, 230 - 20 * y / height], -1)
    ground = np.stack([70 + 30 * np.sin(x / 37), 120 + 20 * np.cos(y / 23), 50 + 0 * x], -1)
    horizon = height * 0.55 + 12 * np.sin(x / 50)
    img = np.where((y < horizon)[..., None], sky, ground)
    img += rng.normal(0, 6, img.shape)  # grain and texture
    sun = (x - width * 0.7) ** 2 + (y - height * 0.2) ** 2 < (width * 0.06) ** 2
    img[sun] = (245, 235, 180)
    tree = (np.abs(x - width * 0.25) < width * 0.03) & (y > height * 0.35)
    img[tree] = (60, 40, 30)
    return np.clip(img, 0, 250).astype(np.uint8)
