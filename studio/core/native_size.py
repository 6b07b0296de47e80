"""A model's native (training) image side in pixels, read from its configs: no torch, nothing loaded.

Used to size new images for the chosen model (studio-mini 128, SD1.x 512, SD2 768, SDXL 1024). The
engine's `ModelReady.native_size` is the loaded model's own answer and wins when it arrives.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from studio.core.paths import builtin_model_dir

log = logging.getLogger(__name__)
DEFAULT_SIDE = 512


def native_size(ref: str) -> int:
    """The side in pixels for model `ref` ("" = built-in): from a diffusers folder's UNet and VAE
    configs; for a single file or a Hub id, a guess from its name (SD1.x 512 when nothing says)."""
    folder = builtin_model_dir() if ref == "" else Path(ref)
    if folder.is_dir():
        side = _from_configs(folder)
        if side:
            return side
    return guess_from_name(ref)


def guess_from_name(ref: str) -> int:
    name = Path(ref).name.lower()
    if "xl" in name:
        return 1024
    if any(tag in name for tag in ("768", "sd2", "v2-", "2.1", "2-1", "2.0")):
        return 768
    return DEFAULT_SIDE


def _from_configs(folder: Path) -> int:
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text("utf-8"))
        vae = json.loads((folder / "vae" / "config.json").read_text("utf-8"))
        return int(unet["sample_size"]) * 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        log.debug("No native size in the configs of %s", folder, exc_info=True)
        return 0
