"""A replaced Engine (device/precision change) must not reuse the job ids of the one before it."""

from __future__ import annotations

import numpy as np
import torch

from studio.core.events import Queued
from studio.core.request import GenerationRequest
from studio.engine.device import default_torch_threads
from studio.engine.engine import Engine
from studio.engine.latent_rgb import LatentRGB


def test_job_ids_stay_unique_across_engines() -> None:
    first, second = Engine(lambda e: None), Engine(lambda e: None)
    request = GenerationRequest(prompt="a red apple", width=64, height=64)
    ids = [job.id for job in (first.submit(request), second.submit(request), first.submit(request))]
    assert len(set(ids)) == 3


def test_submit_reports_queued_with_the_returned_id() -> None:
    seen: list = []
    engine = Engine(seen.append)
    engine.start()
    try:
        job = engine.submit(GenerationRequest(prompt="x", width=64, height=64))
        job.cancel()
    finally:
        engine.shutdown(5)
    assert any(isinstance(e, Queued) and e.job_id == job.id for e in seen)


def test_cpu_preview_map_matches_the_torch_einsum() -> None:
    rng = np.random.default_rng(0)
    rgb = LatentRGB(
        factors=rng.normal(size=(4, 3)).astype(np.float32) * 0.3,
        bias=rng.normal(size=3).astype(np.float32) * 0.1,
    )
    latent = torch.from_numpy(rng.normal(size=(4, 16, 12)).astype(np.float32))
    expected = torch.einsum("chw,cr->hwr", latent, torch.from_numpy(rgb.factors)) + torch.from_numpy(rgb.bias)
    expected = ((expected + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    got = rgb.to_rgb(latent)
    assert got.shape == (16, 12, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # float rounding only


def test_default_thread_count_is_every_core(monkeypatch) -> None:
    """Every core; the GUI stays responsive through the engine thread's lower priority
    (test_cpu_defaults, bench_stall.py)."""
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_torch_threads() == 2
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_torch_threads() == 16
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert default_torch_threads() == 1
