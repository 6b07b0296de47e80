"""GPU memory modes on a real CUDA device (skipped without one): every mode runs the tiny pipeline
and gives the full mode's pixels, sequential offload is left by reloading, and the engine retries
an out-of-memory job in a lower mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.events import Finished, ModelReady, Started
from studio.engine.memory import MemoryMode, apply_mode
from studio.engine.models import ModelManager

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _run(pipe) -> np.ndarray:
    generator = torch.Generator("cpu").manual_seed(0)
    out = pipe(
        "a red apple", num_inference_steps=3, height=64, width=64, generator=generator, output_type="np"
    )
    return np.asarray(out.images)


@pytest.mark.parametrize("mode", list(MemoryMode))
def test_every_mode_gives_the_full_modes_pixels(mode):
    from tests.tiny_model import build_tiny_pipeline

    full = build_tiny_pipeline()
    apply_mode(full, MemoryMode.FULL, "cuda")
    expected = _run(full)
    pipe = build_tiny_pipeline()
    apply_mode(pipe, mode, "cuda")
    np.testing.assert_allclose(_run(pipe), expected, atol=2e-2)  # attention slicing: other kernels


def test_sequential_is_left_by_loading_again(monkeypatch, tiny_dir):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    free = [0]
    manager = ModelManager("cuda", torch.float16, free_vram=lambda device: free[0])
    manager.ensure(str(tiny_dir))
    assert manager.memory_mode is MemoryMode.SEQUENTIAL
    first = manager.loaded
    free[0] = 100 * 2**30
    assert manager.prepare_memory((64, 64), 1) is MemoryMode.FULL
    assert manager.loaded is not first and manager.loaded is not None
    assert manager.loaded.pipe.unet.device.type == "cuda"
    assert _run(manager.loaded.pipe).shape == (1, 64, 64, 3)


def test_engine_on_cuda_retries_an_out_of_memory_job_in_a_lower_mode(make_engine, request_for, monkeypatch):
    import studio.engine.pipelines as pipelines

    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    real_generate = pipelines.generate
    calls: list[int] = []

    def generate(request, plan, models, ctx) -> list[Image.Image]:
        calls.append(1)
        if len(calls) == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 80.00 GiB")
        return real_generate(request, plan, models, ctx)

    monkeypatch.setattr(pipelines, "generate", generate)
    eng, rec = make_engine(device="cuda")
    job = eng.submit(request_for())
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert next(e for e in rec.of(job) if isinstance(e, ModelReady)).memory_mode == "full"
    started = [e for e in rec.of(job) if isinstance(e, Started)]
    assert len(started) == 2 and "VAE tiling" in started[1].warnings[0]
