"""Fast CPU defaults (issue 15): "auto" precision runs large models in bf16 only on a CPU with bf16
hardware, small ones (the built-in model) stay fp32; the engine uses every core from a lower-priority
thread; bf16 images stay within a stated tolerance of fp32."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from studio.core.events import Finished, ModelReady
from studio.core.request import GenerationRequest, PreviewKind
from studio.engine import device as dev

# bf16 vs fp32 on the built-in model, same seed, 20 steps: measured 1.4 levels mean / 15 max (of 255)
BF16_MEAN_TOLERANCE = 4.0


def test_auto_bf16_only_on_a_cpu_with_the_flag_and_only_for_auto(monkeypatch):
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    assert dev.auto_cpu_bf16("cpu", "auto") and dev.auto_cpu_bf16("cpu", "")
    assert not dev.auto_cpu_bf16("cpu", "fp32") and not dev.auto_cpu_bf16("cuda", "auto")
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: False)
    assert not dev.auto_cpu_bf16("cpu", "auto")


def test_bf16_pays_off_for_sd_sized_unets_only():
    assert dev.bf16_pays_off(860_000_000) and dev.bf16_pays_off(2_600_000_000)
    assert not dev.bf16_pays_off(17_000_000)


@pytest.mark.parametrize(
    ("flag", "threshold", "expected"),
    [(True, 0, "torch.bfloat16"), (True, 10**12, "torch.float32"), (False, 0, "torch.float32")],
)
def test_the_engine_reports_the_precision_a_model_runs_in(
    make_engine, request_for, monkeypatch, flag, threshold, expected
):
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: flag)
    monkeypatch.setattr(dev, "BF16_MIN_UNET_PARAMS", threshold)
    engine, rec = make_engine(precision="auto")
    done = rec.wait_for(engine.submit(request_for()))
    assert isinstance(done, Finished), done
    ready = next(e for e in rec.events if isinstance(e, ModelReady))
    assert (ready.device, ready.dtype) == ("cpu", expected)


def test_the_engine_thread_and_its_workers_run_at_a_lower_priority():
    seen: list[int] = []

    def worker() -> None:
        dev.lower_thread_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before + dev.ENGINE_NICE]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # only that thread


def test_default_threads_are_every_core():
    assert dev.default_torch_threads() == os.cpu_count()


@pytest.mark.skipif(not dev.cpu_has_native_bf16(), reason="bf16 is emulated (slow) on this CPU")
def test_bf16_images_stay_within_the_stated_tolerance_of_fp32(make_engine):
    request = GenerationRequest(
        prompt="red apple", steps=20, width=64, height=64, seed=1, preview=PreviewKind.NONE
    )
    images = {}
    for precision in ("fp32", "bf16"):
        engine, rec = make_engine(precision=precision)
        done = rec.wait_for(engine.submit(request))
        assert isinstance(done, Finished), done
        images[precision] = np.asarray(done.images[0], dtype=np.float32)
    diff = np.abs(images["fp32"] - images["bf16"])
    assert diff.mean() <= BF16_MEAN_TOLERANCE, diff.mean()


def test_threads_follow_the_model_size():
    assert dev.threads_for_model(860_000_000, cores=16) == 16
    assert dev.threads_for_model(17_000_000, cores=16) == 1


def test_the_engine_sets_the_threads_for_the_loaded_model(make_engine, request_for, monkeypatch):
    seen: list[int] = []
    monkeypatch.setattr(dev, "threads_for_model", lambda params, cores=None: seen.append(params) or 1)
    engine, rec = make_engine(torch_threads=None)
    assert isinstance(rec.wait_for(engine.submit(request_for())), Finished)
    assert len(seen) == 1 and seen[0] > 0  # called with the tiny UNet's parameter count
