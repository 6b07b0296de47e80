"""The v2 training loop: autoencoder, latent caching, UNet stages; resumable at any step.

Every random draw of step `s` of a phase comes from a generator seeded with (seed, phase, s), and
the full state (weights, EMA, optimizer moments, step) is checkpointed, so a run that stops and
resumes gives the same weights as one that did not stop (up to float noise).
"""

from __future__ import annotations

import logging
import math
import signal
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio_train.autoencoder import lr_at, random_crop, reconstruction_terms
from studio_train.diffusion import min_snr_weights
from studio_train.v2 import state as ckpt
from studio_train.v2.config import Config
from studio_train.v2.dataset import EmojiData
from studio_train.v2.models import build_autoencoder, build_train_scheduler, build_unet
from studio_train.v2.runlog import RunLog

log = logging.getLogger(__name__)


@dataclass
class TextBank:
    """Cached text-encoder outputs: `captions[i * P + p]` is image i in phrasing p."""

    captions: Any  # torch (N * P, L, W) float16
    empty: Any  # torch (L, W) float16
    phrasings: int


def step_generator(seed: int, phase: str, step: int) -> Any:  # noqa: ANN401
    import torch

    return torch.Generator().manual_seed(zlib.crc32(f"{seed}/{phase}/{step}".encode()))


def unet_lr(cfg: Config, step: int) -> float:
    """Linear warm-up, constant, cosine cool-down over the last `cfg.cooldown` steps."""
    warm = min(1.0, (step + 1) / max(1, cfg.warmup))
    start = cfg.unet_steps - cfg.cooldown
    if step < start:
        return cfg.lr * warm
    p = min(1.0, (step - start) / max(1, cfg.cooldown))
    return cfg.lr * warm * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * p)))


def to_unit(images: Any) -> Any:  # noqa: ANN401
    """uint8 NHWC torch -> float NCHW in [-1, 1]."""
    return images.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def downsample(x: Any, size: int) -> Any:  # noqa: ANN401
    import torch.nn.functional as F  # noqa: N812

    if x.shape[-1] == size:
        return x
    return F.avg_pool2d(x, x.shape[-1] // size)


class StopRequested(Exception):
    pass


class Trainer:
    def __init__(
        self, cfg: Config, work: Path, data: EmojiData, text: TextBank | None, *, device: str = "cpu",
        bf16: bool = False,
    ) -> None:  # fmt: skip
        import torch

        self.cfg, self.work, self.data, self.text = cfg, work, data, text
        self.device, self.bf16 = device, bf16
        self.images = torch.from_numpy(data.images)  # uint8 NHWC, CPU
        torch.manual_seed(cfg.seed)  # initial weights: the same in every run of this recipe
        self.vae = build_autoencoder(cfg.dims).to(device)
        self.unet = build_unet(cfg.dims).to(device)
        self.ema = build_unet(cfg.dims).to(device).eval().requires_grad_(False)
        self.ema.load_state_dict(self.unet.state_dict())
        self.ae_opt = torch.optim.AdamW(
            self.vae.parameters(), lr=cfg.ae_lr, weight_decay=0.0, betas=(0.9, 0.99)
        )
        self.unet_opt = torch.optim.AdamW(
            self.unet.parameters(), lr=cfg.lr, weight_decay=0.01, betas=(0.9, 0.99)
        )
        self.noise_sched = build_train_scheduler()
        self.phase, self.step, self.scale = "ae", 0, 1.0
        self.train_seconds = 0.0  # summed over sessions (learning curves)
        self.latents: dict[int, tuple[Any, Any]] = {}
        self.log = RunLog(work)
        self.stop_flag = False

    # ---- checkpoints -------------------------------------------------------------------------
    @property
    def ckpt_root(self) -> Path:
        return self.work / "checkpoints"

    def global_step(self) -> int:
        return self.step if self.phase == "ae" else self.cfg.ae_steps + self.step

    def save(self) -> Path:
        tensors: dict[str, Any] = {}
        for name, module in (("vae", self.vae), ("unet", self.unet), ("ema", self.ema)):
            tensors.update(ckpt.module_tensors(name, module))
        ae_t, ae_meta = ckpt.optimizer_tensors("ae_opt", self.ae_opt)
        un_t, un_meta = ckpt.optimizer_tensors("unet_opt", self.unet_opt)
        tensors.update(ae_t)
        tensors.update(un_t)
        meta = {
            "phase": self.phase, "step": self.step, "scale": self.scale,
            "train_seconds": self.train_seconds, "ae_opt": ae_meta, "unet_opt": un_meta,
        }  # fmt: skip
        name = f"{self.global_step():08d}-{self.phase}"
        path = ckpt.write_checkpoint(self.ckpt_root, name, tensors, meta)
        self.log.note(f"checkpoint {name} (train {self.train_seconds / 3600:.2f} h)")
        return path

    def resume(self) -> bool:
        found = ckpt.read_checkpoint(self.ckpt_root)
        if found is None:
            return False
        tensors, meta = found
        tensors = {k: v.to(self.device) for k, v in tensors.items()}
        for name, module in (("vae", self.vae), ("unet", self.unet), ("ema", self.ema)):
            ckpt.load_module(module, name, tensors)
        ckpt.load_optimizer(self.ae_opt, "ae_opt", tensors, meta["ae_opt"])
        ckpt.load_optimizer(self.unet_opt, "unet_opt", tensors, meta["unet_opt"])
        self.phase, self.step, self.scale = meta["phase"], int(meta["step"]), float(meta["scale"])
        self.train_seconds = float(meta["train_seconds"])
        self.vae.register_to_config(scaling_factor=self.scale)
        self.log.note(f"resumed at {self.phase} step {self.step}")
        return True

    # ---- the run -------------------------------------------------------------------------------
    def run(
        self,
        *,
        checkpoint_s: float = 600.0,
        stop_at: int | None = None,
        on_eval: Callable[[Trainer], None] | None = None,
        eval_s: float = 1800.0,
    ) -> str:
        """Train until done, `stop_at` (global step) or SIGTERM/SIGINT; checkpoint and return the phase."""
        self._install_signals()
        last_ckpt = last_eval = time.monotonic()
        while self.phase != "done":
            if self.stop_flag or (stop_at is not None and self.global_step() >= stop_at):
                self.save()
                self.log.note(f"stopped at {self.phase} step {self.step}")
                return self.phase
            t = time.monotonic()
            boundary = self._advance()
            self.train_seconds += time.monotonic() - t
            now = time.monotonic()
            if boundary or now - last_ckpt >= checkpoint_s:
                self.save()
                last_ckpt = time.monotonic()
            if on_eval is not None and self.phase == "unet" and (boundary or now - last_eval >= eval_s):
                on_eval(self)
                last_eval = time.monotonic()
        return self.phase

    def _install_signals(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.warning("signal %d: checkpointing after this step, then stopping", signum)
            self.stop_flag = True

        try:
            signal.signal(signal.SIGTERM, handler)
            signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread (tests)
            pass

    def _advance(self) -> bool:
        """One unit of work; True at a phase or stage boundary (checkpoint and evaluate then)."""
        cfg = self.cfg
        if self.phase == "ae":
            if self.step >= cfg.ae_steps:
                self.ae_report()
                self.phase, self.step = "latents", 0
                return True
            self.ae_step()
            self.step += 1
            return False
        if self.phase == "latents":
            self.prepare_latents()
            self.save_latents()
            self.phase, self.step = "unet", 0
            return True
        if self.step >= cfg.unet_steps:
            self.phase = "done"
            return True
        self.unet_step()
        self.step += 1
        stage_now, _ = cfg.stage_at(self.step - 1)
        return self.step >= cfg.unet_steps or cfg.stage_at(self.step)[0] != stage_now

    # ---- autoencoder ---------------------------------------------------------------------------
    def ae_step(self) -> dict[str, float]:
        import torch

        cfg, s = self.cfg, self.step
        g = step_generator(cfg.seed, "ae", s)
        idx = torch.randint(0, len(self.images), (cfg.ae_batch,), generator=g)
        x = to_unit(self.images[idx]).to(self.device)
        half = cfg.image_size // 2
        if s < cfg.ae_steps * (1 - cfg.ae_full_share):
            x = random_crop(x, half, g) if s % 2 == 0 else downsample(x, half)
        for group in self.ae_opt.param_groups:
            group["lr"] = lr_at(s / cfg.ae_steps, cfg.ae_lr)
        self.vae.train()
        with torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16, enabled=self.bf16):
            post = self.vae.encode(x).latent_dist
            z = post.mean + post.std * torch.randn(post.mean.shape, generator=g).to(self.device)
            y = self.vae.decode(z).sample.float()
        rec, col, chroma = reconstruction_terms(y, x)
        kl = post.kl().float().mean() / x[0].numel()
        loss = rec + 2.0 * col + 2.0 * chroma + 1e-4 * kl
        self.ae_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.vae.parameters(), 1.0)
        self.ae_opt.step()
        stats = {"loss": loss.item(), "rec": rec.item(), "colour": col.item(), "chroma": chroma.item()}
        self.log.step("ae", s, stats)
        return stats

    def ae_report(self, n: int = 400) -> dict[str, float]:
        """Reconstruction quality on up to `n` images spread over the data (notes + ae_quality.json)."""
        import json

        import numpy as np

        from studio_train.autoencoder import evaluate_autoencoder

        self.vae.eval()
        pick = np.linspace(0, len(self.data) - 1, min(n, len(self.data))).round().astype(int)
        quality = evaluate_autoencoder(self.vae, self.data.images[pick], self.device)
        (self.work / "ae_quality.json").write_text(json.dumps(quality, indent=1) + "\n", encoding="utf-8")
        self.log.note(f"autoencoder after {self.cfg.ae_steps} steps: {quality}")
        return quality

    # ---- latents -------------------------------------------------------------------------------
    def prepare_latents(self) -> None:
        """Posterior mean/std of every image at every stage size; scaling factor from full size."""
        import torch

        self.vae.eval()
        for size in sorted({size for size, _ in self.cfg.stages}):
            means, stds = [], []
            with torch.no_grad():
                for i in range(0, len(self.images), 64):
                    x = downsample(to_unit(self.images[i : i + 64]).to(self.device), size)
                    post = self.vae.encode(x).latent_dist
                    means.append(post.mean)
                    stds.append(post.std)
            # contiguous: the encoder returns channels-last strides, which would switch the UNet to
            # other kernels (float noise between a run and its resumed copy, which loads these)
            self.latents[size] = (torch.cat(means).contiguous(), torch.cat(stds).contiguous())
        mean, std = self.latents[max(self.latents)]
        self.scale = 1.0 / math.sqrt(mean.var().item() + (std**2).mean().item())
        self.vae.register_to_config(scaling_factor=self.scale)
        self.log.note(f"latents cached for sizes {sorted(self.latents)}, scaling_factor {self.scale:.4f}")

    @property
    def latents_dir(self) -> Path:
        return self.work / "latents"

    def save_latents(self) -> None:
        from studio_train.v2.shards import save_sharded

        tensors = {}
        for size, (mean, std) in self.latents.items():
            tensors[f"{size}/mean"], tensors[f"{size}/std"] = mean, std
        save_sharded(tensors, self.latents_dir)

    def ensure_latents(self) -> None:
        """After a resume in the UNet phase: the latents saved when they were computed (the
        autoencoder no longer changes), else computed again."""
        if self.phase not in ("unet", "done") or self.latents:
            return
        if (self.latents_dir / "index.json").exists():
            from studio_train.v2.shards import load_sharded

            raw = load_sharded(self.latents_dir)
            for size in {int(k.split("/")[0]) for k in raw}:
                self.latents[size] = (raw[f"{size}/mean"].to(self.device), raw[f"{size}/std"].to(self.device))
            return
        scale = self.scale
        self.prepare_latents()
        self.scale = scale
        self.vae.register_to_config(scaling_factor=scale)

    # ---- UNet ----------------------------------------------------------------------------------
    def unet_step(self) -> dict[str, float]:
        import torch

        assert self.text is not None, "the UNet phase needs the text bank"
        self.ensure_latents()
        cfg, s = self.cfg, self.step
        _, size = cfg.stage_at(s)
        g = step_generator(cfg.seed, "unet", s)
        n, p = len(self.images), self.text.phrasings
        idx = torch.randint(0, n, (cfg.batch,), generator=g)
        weights = torch.tensor([cfg.plain_share] + [(1 - cfg.plain_share) / max(1, p - 1)] * (p - 1))
        phr = torch.multinomial(weights, cfg.batch, replacement=True, generator=g)
        dropped = torch.rand(cfg.batch, generator=g) < cfg.drop
        cond = self.text.captions[idx * p + phr].float()
        cond = torch.where(dropped[:, None, None], self.text.empty.float()[None], cond).to(self.device)
        mean, std = self.latents[size]
        dev_idx = idx.to(self.device)
        z0 = mean[dev_idx] + std[dev_idx] * torch.randn(mean[dev_idx].shape, generator=g).to(self.device)
        z0 = z0 * self.scale
        noise = torch.randn(z0.shape, generator=g).to(self.device)
        t = torch.randint(0, self.noise_sched.config.num_train_timesteps, (cfg.batch,), generator=g)
        t = t.to(self.device)
        zt = self.noise_sched.add_noise(z0, noise, t)
        lr = unet_lr(cfg, s)
        for group in self.unet_opt.param_groups:
            group["lr"] = lr
        self.unet.train()
        pred = self.unet(zt, t, cond).sample
        per = ((pred.float() - noise) ** 2).mean(dim=(1, 2, 3))
        loss = (per * min_snr_weights(self.noise_sched, t)).mean()
        self.unet_opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.unet.parameters(), 1.0)
        self.unet_opt.step()
        self._update_ema(s)
        stats = {"loss": loss.item(), "lr": lr, "size": float(size)}
        self.log.step("unet", s, stats)
        return stats

    def _update_ema(self, step: int) -> None:
        import torch

        decay = min(self.cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            live = [p.detach() for p in self.unet.parameters()]
            torch._foreach_lerp_(list(self.ema.parameters()), live, 1 - decay)
