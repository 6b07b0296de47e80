"""Colour fidelity checks: hue error on saturated pixels, per colour family."""

from __future__ import annotations

import numpy as np

FAMILIES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink")
_CENTRES = np.array([0.0, 30.0, 55.0, 120.0, 180.0, 225.0, 275.0, 320.0])


def rgb_to_hsv(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 or [0,1] float (..., 3) -> hue in degrees, saturation, value in [0,1]."""
    x = img.astype(np.float32)
    if img.dtype == np.uint8:
        x = x / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(axis=-1), x.min(axis=-1)
    delta = mx - mn
    safe = np.where(delta > 1e-6, delta, 1.0)
    h = np.where(mx == r, ((g - b) / safe) % 6, np.where(mx == g, (b - r) / safe + 2, (r - g) / safe + 4))
    hue = np.where(delta > 1e-6, h * 60.0, 0.0)
    sat = np.where(mx > 1e-6, delta / np.where(mx > 1e-6, mx, 1.0), 0.0)
    return hue, sat, mx


def hue_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d)


def hue_error(original: np.ndarray, other: np.ndarray) -> float:
    """Mean hue difference (degrees) over pixels saturated in the original (S>0.4, V>0.3)."""
    h0, s0, v0 = rgb_to_hsv(original)
    h1, _, _ = rgb_to_hsv(other)
    mask = (s0 > 0.4) & (v0 > 0.3)
    if not mask.any():
        return 0.0
    return float(hue_distance(h0, h1)[mask].mean())


def dominant_family(img: np.ndarray) -> str | None:
    """Colour family of the saturated pixels (by circular mean hue), None if mostly grey."""
    h, s, v = rgb_to_hsv(img)
    mask = (s > 0.4) & (v > 0.3)
    if mask.mean() < 0.08:
        return None
    rad = np.deg2rad(h[mask])
    w = s[mask]
    mean = np.rad2deg(np.arctan2((np.sin(rad) * w).sum(), (np.cos(rad) * w).sum())) % 360.0
    return FAMILIES[int(np.argmin(hue_distance(_CENTRES, mean)))]


def family_accuracy(originals: np.ndarray, others: np.ndarray) -> dict[str, tuple[int, int]]:
    """Per family of the original: (kept the same family, total)."""
    out: dict[str, list[int]] = {f: [0, 0] for f in FAMILIES}
    for a, b in zip(originals, others, strict=True):
        fam = dominant_family(a)
        if fam is None:
            continue
        out[fam][1] += 1
        out[fam][0] += int(dominant_family(b) == fam)
    return {k: (v[0], v[1]) for k, v in out.items() if v[1]}
