"""Phase 1: train the AutoencoderKL (64x64 RGB -> 8x8x4), then cache posterior latents."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from studio_train.colour import family_accuracy, hue_error
from studio_train.progress import Progress

log = logging.getLogger(__name__)


def to_tensor(images: np.ndarray, device: str):  # noqa: ANN201
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return x.to(device)


def to_uint8(x: Any) -> np.ndarray:  # noqa: ANN401
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 2, 3, 1).cpu().numpy()


def lr_at(frac: float, base: float, warm: float = 0.03, final: float = 0.05) -> float:
    if frac < warm:
        return base * max(frac / warm, 0.02)
    p = min((frac - warm) / (1 - warm), 1.0)
    return base * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * p)))


def train_autoencoder(
    vae: Any,  # noqa: ANN401
    images: np.ndarray,
    *,
    seconds: float,
    device: str,
    progress: Progress,
    batch: int = 32,
    lr: float = 5e-4,
    bf16: bool = True,
    max_steps: int | None = None,
    seed: int = 0,
    crop: int | None = 32,
    full_share: float = 0.15,
) -> dict[str, float]:
    """Train on random `crop`-pixel crops (about 3x cheaper a step, so more steps in the time),
    then on whole images for the last `full_share` of the time (GroupNorm statistics and the
    attention then see the full 8x8 latent grid they meet at inference)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    data = to_tensor(images, device)
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    vae.train()
    autocast = bf16 and device == "cpu"
    start = time.monotonic()
    step = 0
    stats: dict[str, float] = {}
    while True:
        frac = (time.monotonic() - start) / seconds
        if frac >= 1.0 or (max_steps is not None and step >= max_steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, lr)
        idx = torch.randint(0, len(data), (batch,), generator=gen).to(device)
        x = data[idx]
        if crop and frac < 1.0 - full_share:
            x = random_crop(x, crop, gen)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
            post = vae.encode(x).latent_dist
            y = vae.decode(post.sample()).sample.float()
        rec, col, chroma = reconstruction_terms(y, x)
        kl = post.kl().float().mean() / x[0].numel()
        loss = rec + 2.0 * col + 2.0 * chroma + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 25 == 0 or step == 1:
            stats = {"loss": loss.item(), "rec": rec.item(), "colour": col.item(), "kl": kl.item()}
            stats["chroma"] = chroma.item()
            progress.log("ae", step, frac, stats)
    vae.eval()
    quality = evaluate_autoencoder(vae, images, device)
    progress.note(f"autoencoder done: {step} steps, {quality}")
    return {**stats, **quality, "steps": float(step)}


def random_crop(x: Any, size: int, gen: Any) -> Any:  # noqa: ANN401
    """One random crop for the batch, on the 8-pixel latent grid."""
    import torch

    cells = (x.shape[-1] - size) // 8 + 1
    top, left = (int(v) * 8 for v in torch.randint(0, cells, (2,), generator=gen))
    return x[:, :, top : top + size, left : left + size]


def reconstruction_terms(y: Any, x: Any) -> tuple[Any, Any, Any]:  # noqa: ANN401
    """Pixel loss, 8x8 block-colour loss and a chroma loss (colour minus its grey level).

    The last two keep hues: without them a short training squeezes reds, greens and purples
    into orange/brown and blue, and the diffusion model inherits the wrong colours.
    """
    import torch.nn.functional as F  # noqa: N812

    rec = F.l1_loss(y, x) + F.mse_loss(y, x)
    col = F.mse_loss(F.avg_pool2d(y, 8), F.avg_pool2d(x, 8))
    chroma = F.mse_loss(
        F.avg_pool2d(y - y.mean(1, keepdim=True), 2), F.avg_pool2d(x - x.mean(1, keepdim=True), 2)
    )
    return rec, col, chroma


def reconstruct(vae: Any, images: np.ndarray, device: str) -> np.ndarray:  # noqa: ANN401
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), 64):
            x = to_tensor(images[i : i + 64], device)
            out.append(to_uint8(vae.decode(vae.encode(x).latent_dist.mode()).sample))
    return np.concatenate(out)


def evaluate_autoencoder(vae: Any, images: np.ndarray, device: str) -> dict[str, float]:  # noqa: ANN401
    rec = reconstruct(vae, images, device)
    diff = np.abs(rec.astype(np.float32) - images.astype(np.float32)).mean() / 255.0
    fam = family_accuracy(images, rec)
    kept = sum(v[0] for v in fam.values()) / max(1, sum(v[1] for v in fam.values()))
    hue = float(np.mean([hue_error(a, b) for a, b in zip(images, rec, strict=True)]))
    log.info("colour families kept: %s", fam)
    return {"mae": float(diff), "hue_error_deg": hue, "family_kept": float(kept)}


def cache_latents(vae: Any, images: np.ndarray, device: str) -> tuple[Any, Any, float]:  # noqa: ANN401
    """Posterior mean and std for every image, and the scaling factor (1 / latent std)."""
    import torch

    means, stds = [], []
    with torch.no_grad():
        for i in range(0, len(images), 64):
            post = vae.encode(to_tensor(images[i : i + 64], device)).latent_dist
            means.append(post.mean)
            stds.append(post.std)
    mean, std = torch.cat(means), torch.cat(stds)
    sample_std = torch.sqrt(mean.var() + (std**2).mean()).item()
    return mean, std, 1.0 / sample_std


def refine_decoder(
    vae: Any,  # noqa: ANN401
    images: np.ndarray,
    *,
    seconds: float,
    device: str,
    progress: Progress,
    batch: int = 16,
    lr: float = 3e-4,
    bf16: bool = True,
    max_steps: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Train only the decoder on the frozen encoder's latents (the UNet's latents stay valid).

    Adds a chroma term (colour minus its grey level) so hues, not just brightness, are matched.
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 2)
    mean, std, _ = cache_latents(vae, images, device)
    data = to_tensor(images, device)
    params = list(vae.post_quant_conv.parameters()) + list(vae.decoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0, betas=(0.9, 0.99))
    vae.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    vae.train()
    autocast = bf16 and device == "cpu"
    start, step, stats = time.monotonic(), 0, {}
    while True:
        frac = (time.monotonic() - start) / seconds
        if frac >= 1.0 or (max_steps is not None and step >= max_steps):
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, lr, warm=0.05)
        idx = torch.randint(0, len(data), (batch,), generator=gen).to(device)
        x = data[idx]
        z = mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=gen).to(device)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=autocast):
            y = vae.decode(z).sample.float()
        rec, col, chroma = reconstruction_terms(y, x)
        loss = rec + 2.0 * col + 2.0 * chroma
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 25 == 0 or step == 1:
            stats = {"loss": loss.item(), "rec": rec.item(), "colour": col.item(), "chroma": chroma.item()}
            progress.log("decoder", step, frac, stats)
    vae.requires_grad_(True)
    vae.eval()
    quality = evaluate_autoencoder(vae, images, device)
    progress.note(f"decoder refinement done: {step} steps, {quality}")
    return {**stats, **quality, "steps": float(step)}
