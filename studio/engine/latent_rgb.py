"""A linear map from a model's latents (as the pipeline holds them) to RGB in [-1, 1].

Where the factors come from, first match wins:
1. ``latent_rgb.json`` in the model folder: ``{"factors": [[r, g, b] x channels], "bias": [r, g, b]}``;
2. the published factors for the stock SD 1.x/2.x, SDXL, SD3 and Flux autoencoders (recognised by
   their configuration: channels, scaling and shift factors), as used by ComfyUI's ``latent_formats.py``;
3. a least-squares fit made once per model: the model's own VAE encodes a few smooth random colour
   images and decodes the latents again; the latents are regressed onto the decoded pixels
   averaged down to latent resolution. Cached as JSON under the
   user data dir (``cache/latent_rgb/<model hash>.json``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.fileio import atomic_write_text

log = logging.getLogger(__name__)

# Published factors (ComfyUI comfy/latent_formats.py), latents in model space (VAE mean x scaling).
SD1_FACTORS = [
    [0.3512, 0.2297, 0.3227],
    [0.3250, 0.4974, 0.2350],
    [-0.2829, 0.1762, 0.2721],
    [-0.2120, -0.2616, -0.7177],
]
SD1_BIAS = [0.0, 0.0, 0.0]
SDXL_FACTORS = [
    [0.3651, 0.4232, 0.4341],
    [-0.2533, -0.0042, 0.1068],
    [0.1076, 0.1111, -0.0362],
    [-0.3165, -0.2492, -0.2188],
]
SDXL_BIAS = [0.1084, -0.0175, -0.0011]
# The 16-channel SD3 / Flux autoencoders, latents as the transformer sees them ((z - shift) x scale).
# Source: ComfyUI comfy/latent_formats.py, classes SD3 and Flux (latent_rgb_factors, _bias); numbers only.
SD3_FACTORS = [
    [-0.0922, -0.0175, 0.0749],
    [0.0311, 0.0633, 0.0954],
    [0.1994, 0.0927, 0.0458],
    [0.0856, 0.0339, 0.0902],
    [0.0587, 0.0272, -0.0496],
    [-0.0006, 0.1104, 0.0309],
    [0.0978, 0.0306, 0.0427],
    [-0.0042, 0.1038, 0.1358],
    [-0.0194, 0.0020, 0.0669],
    [-0.0488, 0.0130, -0.0268],
    [0.0922, 0.0988, 0.0951],
    [-0.0278, 0.0524, -0.0542],
    [0.0332, 0.0456, 0.0895],
    [-0.0069, -0.0030, -0.0810],
    [-0.0596, -0.0465, -0.0293],
    [-0.1448, -0.1463, -0.1189],
]
SD3_BIAS = [0.2394, 0.2135, 0.1925]
FLUX_FACTORS = [
    [-0.0346, 0.0244, 0.0681],
    [0.0034, 0.0210, 0.0687],
    [0.0275, -0.0668, -0.0433],
    [-0.0174, 0.0160, 0.0617],
    [0.0859, 0.0721, 0.0329],
    [0.0004, 0.0383, 0.0115],
    [0.0405, 0.0861, 0.0915],
    [-0.0236, -0.0185, -0.0259],
    [-0.0245, 0.0250, 0.1180],
    [0.1008, 0.0755, -0.0421],
    [-0.0515, 0.0201, 0.0011],
    [0.0428, -0.0012, -0.0036],
    [0.0817, 0.0765, 0.0749],
    [-0.1264, -0.0522, -0.1103],
    [-0.0280, -0.0881, -0.0499],
    [-0.1262, -0.0982, -0.0778],
]
FLUX_BIAS = [-0.0329, -0.0718, -0.0851]
# (scaling factor, shift factor) of the stock 16-channel autoencoders -> (name, factors, bias)
_STOCK_16 = {
    (1.5305, 0.0609): ("sd3", SD3_FACTORS, SD3_BIAS),
    (0.3611, 0.1159): ("flux", FLUX_FACTORS, FLUX_BIAS),
}
_STOCK_VAE_BLOCKS = [128, 256, 512, 512]


@dataclass
class LatentRGB:
    factors: np.ndarray  # (channels, 3)
    bias: np.ndarray  # (3,)
    source: str = ""  # "folder", "sd1", "sdxl", "sd3", "flux", "fit", "cache"
    _cached: Any = None  # (device, dtype, factors tensor, bias tensor)

    def to_rgb(self, latent: Any) -> np.ndarray:
        """(C, h, w) tensor -> (h, w, 3) uint8.

        On the CPU the map runs in numpy: torch's OpenMP pool spins when the CPU is contended and
        turned this 0.2 ms map into 16 ms with two engine threads (docs/BENCHMARKS.md). On a GPU
        it runs on the device and only the small RGB result is copied back.
        """
        import torch

        if latent.device.type == "cpu":
            return self._to_rgb_numpy(latent.detach().float().numpy())
        with torch.no_grad():
            f, b = self._tensors(latent.device)
            rgb = torch.einsum("chw,cr->hwr", latent.float(), f) + b
            rgb = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
        return rgb.cpu().numpy()

    def _to_rgb_numpy(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[1], x.shape[2], 3), np.float32)
        out[:] = self.bias
        for c in range(x.shape[0]):  # per-channel multiply-add: no BLAS/OpenMP call
            out += x[c, :, :, None] * self.factors[c]
        return np.clip((out + 1.0) * 127.5, 0, 255).astype(np.uint8)

    def _tensors(self, device: Any) -> tuple[Any, Any]:
        import torch

        if self._cached is None or self._cached[0] != device:
            f = torch.as_tensor(self.factors, dtype=torch.float32, device=device)
            b = torch.as_tensor(self.bias, dtype=torch.float32, device=device)
            self._cached = (device, f, b)
        return self._cached[1], self._cached[2]

    def to_json(self) -> str:
        return json.dumps({"factors": self.factors.tolist(), "bias": self.bias.tolist()}, indent=1)


def parse_latent_rgb(text: str, channels: int, source: str) -> LatentRGB:
    data = json.loads(text)
    factors = np.asarray(data["factors"], dtype=np.float32)
    bias = np.asarray(data.get("bias", [0.0, 0.0, 0.0]), dtype=np.float32)
    if factors.shape != (channels, 3) or bias.shape != (3,):
        raise ValueError(f"expected factors {channels}x3 and bias 3, got {factors.shape} / {bias.shape}")
    return LatentRGB(factors, bias, source)


def latent_rgb_for(vae: Any, *, folder: Path | None, model_hash: str, cache_dir: Path | None) -> LatentRGB:
    """The latent -> RGB map for a loaded model (see the module docstring for the order)."""
    channels = int(vae.config.latent_channels)
    if folder is not None and (folder / "latent_rgb.json").is_file():
        try:
            return parse_latent_rgb((folder / "latent_rgb.json").read_text("utf-8"), channels, "folder")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Ignoring %s: %s", folder / "latent_rgb.json", exc)
    stock = _stock_factors(vae.config)
    if stock is not None:
        return stock
    cache_file = (
        cache_dir / f"{_cache_key(vae.config, model_hash)}.json" if cache_dir and model_hash else None
    )
    if cache_file is not None and cache_file.is_file():
        try:
            return parse_latent_rgb(cache_file.read_text("utf-8"), channels, "cache")
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Refitting preview colours, cache %s unusable: %s", cache_file, exc)
    fitted = fit_latent_rgb(vae)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache_file, fitted.to_json())
        except OSError as exc:
            log.warning("Could not cache preview colours to %s: %s", cache_file, exc)
    return fitted


def _stock_factors(cfg: Any) -> LatentRGB | None:
    if int(cfg.latent_channels) == 16:
        return _stock_16(cfg)
    if int(cfg.latent_channels) != 4 or list(cfg.block_out_channels) != _STOCK_VAE_BLOCKS:
        return None
    scaling = float(cfg.scaling_factor)
    if abs(scaling - 0.18215) < 1e-4:
        return LatentRGB(np.asarray(SD1_FACTORS, np.float32), np.asarray(SD1_BIAS, np.float32), "sd1")
    if abs(scaling - 0.13025) < 1e-4:
        return LatentRGB(np.asarray(SDXL_FACTORS, np.float32), np.asarray(SDXL_BIAS, np.float32), "sdxl")
    return None


def _stock_16(cfg: Any) -> LatentRGB | None:
    scaling, shift = float(cfg.scaling_factor), float(getattr(cfg, "shift_factor", None) or 0.0)
    for (stock_scaling, stock_shift), (name, factors, bias) in _STOCK_16.items():
        if abs(scaling - stock_scaling) < 1e-4 and abs(shift - stock_shift) < 1e-4:
            return LatentRGB(np.asarray(factors, np.float32), np.asarray(bias, np.float32), name)
    return None


def _cache_key(cfg: Any, model_hash: str) -> str:
    safe = "".join(c for c in model_hash if c.isalnum())[:32]
    return f"{safe}-{int(cfg.latent_channels)}-{float(cfg.scaling_factor):.5f}"


def _synthetic_images(count: int, size: int, seed: int) -> np.ndarray:
    """Smooth random colour fields plus flat primaries, (count, 3, size, size) in [-1, 1]."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    images = []
    flats = [(1, -1, -1), (-1, 1, -1), (-1, -1, 1), (1, 1, 1), (-1, -1, -1), (1, 1, -1)]
    for color in flats:
        images.append(np.broadcast_to(np.asarray(color, np.float32)[:, None, None], (3, size, size)))
    for _ in range(max(0, count - len(flats))):
        small = rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
        big = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
        images.append(np.asarray(big, np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
    return np.stack(images).astype(np.float32)


def fit_latent_rgb(vae: Any, *, count: int = 16, size: int = 64, seed: int = 0) -> LatentRGB:
    """Least-squares [latent, 1] -> RGB fit on what the model's decoder makes of realistic latents.

    Latents come from encoding smooth colour images (the range the diffusion model works in); the
    targets are their *decoded* pixels, averaged down to latent resolution, so the preview predicts
    the final decoded image even where the autoencoder does not reproduce its input exactly.
    """
    import torch

    pixels = torch.from_numpy(_synthetic_images(count, size, seed))
    param = next(vae.parameters())
    scaling = float(vae.config.scaling_factor)
    shift = float(getattr(vae.config, "shift_factor", None) or 0.0)  # SD3 / Flux: (z - shift) x scale
    with torch.no_grad():
        latents = vae.encode(pixels.to(param.device, param.dtype)).latent_dist.mean
        decoded = vae.decode(latents).sample.float().cpu()
        latents = (latents.float().cpu() - shift) * scaling
    h, w = latents.shape[-2:]
    target = torch.nn.functional.adaptive_avg_pool2d(decoded.clamp(-1, 1), (h, w))
    x = latents.permute(0, 2, 3, 1).reshape(-1, latents.shape[1]).numpy()
    y = target.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("the VAE produced NaN/inf values while fitting preview colours")
    design = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    log.info("Fitted preview colours from %d decoded samples (%dx%d latents)", count, h, w)
    return LatentRGB(solution[:-1].astype(np.float32), solution[-1].astype(np.float32), "fit")
