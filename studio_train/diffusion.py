"""Phase 2: train the UNet and the CLIP text encoder on cached 8x8x4 latents."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from studio_train.autoencoder import lr_at
from studio_train.progress import Progress

log = logging.getLogger(__name__)


def tokenize_all(tokenizer: Any, captions: list[list[str]]):  # noqa: ANN001, ANN201
    """Token ids (n_images, n_phrasings, L) and the empty caption's ids (L,).

    L is the tokenizer's model_max_length: exactly what the pipeline pads to at inference.
    """
    n = tokenizer.model_max_length
    flat = [c for group in captions for c in group]
    kw = {"padding": "max_length", "max_length": n, "truncation": True, "return_tensors": "pt"}
    ids = tokenizer(flat, **kw).input_ids
    empty = tokenizer([""], **kw).input_ids[0]
    return ids.view(len(captions), -1, n), empty


def min_snr_weights(scheduler: Any, t: Any, gamma: float = 5.0):  # noqa: ANN401, ANN201
    import torch

    ac = scheduler.alphas_cumprod.to(t.device)[t]
    snr = ac / (1 - ac)
    return torch.clamp(snr, max=gamma) / snr


class Ema:
    def __init__(self, modules: list[Any], decay: float) -> None:  # noqa: ANN401
        self.modules = modules
        self.shadow = [copy.deepcopy(m).eval().requires_grad_(False) for m in modules]
        self.decay = decay
        self.steps = 0

    def update(self) -> None:
        import torch

        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        with torch.no_grad():
            for m, s in zip(self.modules, self.shadow, strict=True):
                live = [p.detach() for p in m.parameters()]
                torch._foreach_lerp_(list(s.parameters()), live, 1 - d)


def train_diffusion(
    unet: Any,  # noqa: ANN401
    text_encoder: Any,  # noqa: ANN401
    scheduler: Any,  # noqa: ANN401
    lat_mean: Any,  # noqa: ANN401
    lat_std: Any,  # noqa: ANN401
    scale: float,
    token_ids: Any,  # noqa: ANN401
    empty_ids: Any,  # noqa: ANN401
    *,
    seconds: float,
    device: str,
    progress: Progress,
    batch: int = 32,
    lr: float = 3e-4,
    drop: float = 0.1,
    ema_decay: float = 0.995,
    max_steps: int | None = None,
    seed: int = 0,
    checkpoint: Callable[[float, Any, Any], None] | None = None,
    checkpoint_at: tuple[float, ...] = (0.25, 0.5, 0.75),
) -> tuple[Any, Any, dict[str, float]]:
    """Train; return EMA copies of (unet, text_encoder) and the last loss statistics.

    `checkpoint(frac, unet_ema, text_ema)` is called once the phase passes each `checkpoint_at`
    fraction (for learning curves: evaluate the saved copies afterwards).
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 1)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    fused = device == "cpu" or device.startswith("cuda")
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.99), fused=fused)
    ema = Ema([unet, text_encoder], ema_decay)
    unet.train()
    text_encoder.train()
    token_ids, empty_ids = token_ids.to(device), empty_ids.to(device)
    n_img, n_phr = token_ids.shape[:2]
    # The plain name ("red apple") is what artists type most: half of the draws; the
    # longer phrasings share the rest.
    phrase_p = torch.tensor([0.5] + [0.5 / (n_phr - 1)] * (n_phr - 1)) if n_phr > 1 else torch.ones(1)
    start = time.monotonic()
    step, run_loss, stats = 0, 0.0, {}
    pending = sorted(checkpoint_at)
    while True:
        frac = (time.monotonic() - start) / seconds
        if frac >= 1.0 or (max_steps is not None and step >= max_steps):
            break
        if checkpoint is not None and pending and frac >= pending[0]:
            checkpoint(pending.pop(0), *ema.shadow)
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, lr, warm=0.04, final=0.05)
        idx = torch.randint(0, n_img, (batch,), generator=gen)
        phr = torch.multinomial(phrase_p, batch, replacement=True, generator=gen)
        ids = token_ids[idx.to(device), phr.to(device)]
        dropped = (torch.rand(batch, generator=gen) < drop).to(device)
        ids = torch.where(dropped[:, None], empty_ids[None, :], ids)
        eps_lat = torch.randn(lat_mean[idx].shape, generator=gen).to(device)
        z0 = (lat_mean[idx.to(device)] + lat_std[idx.to(device)] * eps_lat) * scale
        noise = torch.randn(z0.shape, generator=gen).to(device)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (batch,), generator=gen)
        t = t.to(device)
        zt = scheduler.add_noise(z0, noise, t)
        cond = text_encoder(ids)[0]
        pred = unet(zt, t, cond).sample
        per = ((pred.float() - noise) ** 2).mean(dim=(1, 2, 3))
        loss = (per * min_snr_weights(scheduler, t)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        ema.update()
        step += 1
        run_loss = loss.item() if step == 1 else 0.98 * run_loss + 0.02 * loss.item()
        if step % 25 == 0 or step == 1:
            stats = {"loss": loss.item(), "loss_avg": run_loss, "lr": opt.param_groups[0]["lr"]}
            progress.log("unet", step, frac, stats)
    progress.note(f"diffusion done: {step} steps, smoothed loss {run_loss:.4f}")
    unet_ema, text_ema = ema.shadow
    return unet_ema, text_ema, {**stats, "steps": float(step)}
