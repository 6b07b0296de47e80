"""Per-step previews: kinds, shapes, interval, latent->RGB factors (folder JSON, stock, fitted + cached)."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from studio.core.events import Finished, Step
from studio.core.request import PreviewKind


def _previews(rec, job):
    return [e for e in rec.of(job) if isinstance(e, Step) and e.preview is not None]


@pytest.mark.parametrize("kind", [PreviewKind.X0, PreviewKind.LATENT])
@pytest.mark.parametrize("scheduler", ["Euler a", "DPM++ 2M Karras", "Heun", "UniPC", "PNDM", "LCM"])
def test_previews_arrive_with_kind_and_shape(shared_engine, request_for, kind, scheduler):
    eng, rec = shared_engine
    job = eng.submit(request_for(preview=kind, steps=3, scheduler=scheduler, batch=2))
    assert isinstance(rec.wait_for(job), Finished)
    previews = _previews(rec, job)
    assert [p.step for p in previews] == [1, 2, 3]
    for p in previews:
        assert p.preview_kind is kind
        assert p.preview.shape == (8, 8, 3) and p.preview.dtype == np.uint8


def test_preview_interval_and_last_step(shared_engine, request_for):
    eng, rec = shared_engine
    job = eng.submit(request_for(preview=PreviewKind.X0, preview_interval=2, steps=5))
    assert isinstance(rec.wait_for(job), Finished)
    assert [p.step for p in _previews(rec, job)] == [2, 4, 5]
    steps = [e for e in rec.of(job) if isinstance(e, Step)]
    assert [s.step for s in steps] == [1, 2, 3, 4, 5]
    assert all(s.preview_kind is PreviewKind.NONE for s in steps if s.preview is None)


def test_no_previews_when_off(shared_engine, request_for):
    eng, rec = shared_engine
    job = eng.submit(request_for(preview=PreviewKind.NONE))
    assert isinstance(rec.wait_for(job), Finished)
    assert _previews(rec, job) == []


def test_latent_rgb_json_in_the_model_folder_is_used(shared_engine, request_for, tiny_dir, tmp_path):
    folder = tmp_path / "with-factors"
    shutil.copytree(tiny_dir, folder)
    factors = {"factors": [[0, 0, 0]] * 4, "bias": [1.0, -1.0, 0.0]}  # a constant colour
    (folder / "latent_rgb.json").write_text(json.dumps(factors))
    eng, rec = shared_engine
    job = eng.submit(request_for(model=str(folder), preview=PreviewKind.X0, steps=2))
    assert isinstance(rec.wait_for(job), Finished)
    preview = _previews(rec, job)[-1].preview
    assert (preview[..., 0] == 255).all() and (preview[..., 1] == 0).all()
    assert (np.abs(preview[..., 2].astype(int) - 128) <= 1).all()
    assert eng._models.latent_rgb().source == "folder"


def test_fitted_factors_are_cached(tiny_dir, tmp_path):
    from studio.engine.latent_rgb import latent_rgb_for
    from tests.tiny_model import build_tiny_pipeline

    vae = build_tiny_pipeline().vae
    first = latent_rgb_for(vae, folder=None, model_hash="abc123", cache_dir=tmp_path)
    assert first.source == "fit" and first.factors.shape == (4, 3)
    cached = list(tmp_path.glob("*.json"))
    assert len(cached) == 1
    again = latent_rgb_for(vae, folder=None, model_hash="abc123", cache_dir=tmp_path)
    assert again.source == "cache"
    assert np.allclose(again.factors, first.factors, atol=1e-6)


def test_fit_recovers_a_linear_decoder():
    """A VAE whose latents are a known linear function of the pixels gives back the inverse map."""
    from studio.engine.latent_rgb import fit_latent_rgb

    mix = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, 0.5], [0.5, 0.0, 1.0], [0.2, 0.2, 0.2]])

    class LinearVAE(torch.nn.Module):
        config = SimpleNamespace(scaling_factor=1.0, latent_channels=4)

        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            pooled = torch.nn.functional.avg_pool2d(x, 8)
            latents = torch.einsum("bchw,lc->blhw", pooled, mix)
            return SimpleNamespace(latent_dist=SimpleNamespace(mean=latents))

        def decode(self, latents):
            rgb = torch.einsum("blhw,lc->bchw", latents, torch.linalg.pinv(mix).T)
            return SimpleNamespace(sample=torch.nn.functional.interpolate(rgb, scale_factor=8))

    fitted = fit_latent_rgb(LinearVAE())
    pixels = torch.rand(3, 5, 5) * 2 - 1
    latents = torch.einsum("chw,lc->lhw", pixels, mix)
    rgb = fitted.to_rgb(latents).astype(np.float32) / 127.5 - 1.0
    assert np.abs(rgb - pixels.permute(1, 2, 0).numpy()).max() < 0.02


def test_stock_vae_factors_are_recognised():
    from studio.engine.latent_rgb import latent_rgb_for

    def vae(scaling):
        cfg = SimpleNamespace(
            latent_channels=4, block_out_channels=[128, 256, 512, 512], scaling_factor=scaling
        )
        return SimpleNamespace(config=cfg)

    assert latent_rgb_for(vae(0.18215), folder=None, model_hash="", cache_dir=None).source == "sd1"
    assert latent_rgb_for(vae(0.13025), folder=None, model_hash="", cache_dir=None).source == "sdxl"


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_x0_from_model_output_inverts_the_forward_process(prediction):
    from diffusers import DDIMScheduler

    from studio.engine.preview import x0_from_model_output

    scheduler = DDIMScheduler(beta_schedule="scaled_linear", prediction_type=prediction)
    t = 600
    a = scheduler.alphas_cumprod[t]
    x0, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    sample = a.sqrt() * x0 + (1 - a).sqrt() * eps
    output = eps if prediction == "epsilon" else a.sqrt() * eps - (1 - a).sqrt() * x0
    assert torch.allclose(x0_from_model_output(scheduler, output, torch.tensor(t), sample), x0, atol=1e-4)


def test_x0_capture_leaves_the_scheduler_unchanged():
    from diffusers import EulerDiscreteScheduler

    from studio.engine.preview import X0Capture

    scheduler = EulerDiscreteScheduler(beta_schedule="scaled_linear")
    scheduler.set_timesteps(4)
    capture = X0Capture(scheduler)
    sample = torch.randn(1, 4, 8, 8)
    prev = scheduler.step(torch.zeros_like(sample), scheduler.timesteps[0], sample, return_dict=False)
    assert isinstance(prev, tuple) and torch.allclose(capture.x0(), sample)  # eps = 0 -> x0 = x_t
    capture.restore()
    assert "step" not in vars(scheduler)
