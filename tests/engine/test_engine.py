"""The engine thread: event order, cancel (running and queued), shutdown, preload."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from studio.core.events import (
    Cancelled,
    Failed,
    FailureKind,
    Finished,
    Loading,
    ModelReady,
    Queued,
    Started,
    Step,
)

pytestmark = pytest.mark.filterwarnings("ignore")


def test_importing_engine_does_not_import_torch():
    code = (
        "import sys, studio.engine.engine, studio.engine.pipelines, studio.engine.models, "
        "studio.engine.preview, studio.engine.schedulers; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())


def test_txt2img_event_sequence(engine, request_for):
    eng, rec = engine
    job = eng.submit(request_for(steps=3))
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    kinds = [type(e) for e in rec.of(job)]
    assert kinds[0] is Queued
    assert kinds.index(Loading) < kinds.index(ModelReady) < kinds.index(Started) < kinds.index(Step)
    steps = [e for e in rec.of(job) if isinstance(e, Step)]
    assert [s.step for s in steps] == [1, 2, 3] and {s.total for s in steps} == {3}
    assert len(end.images) == 1 and end.images[0].size == (64, 64) and end.images[0].mode == "RGB"
    assert end.seeds == [7]
    assert end.parameters[0]["Seed"] == 7 and end.parameters[0]["Steps"] == 3


def test_not_busy_when_the_terminal_event_arrives(engine, request_for):
    eng, rec = engine
    seen = []
    rec.on_event = lambda e: seen.append(eng.busy) if isinstance(e, Finished) else None
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    assert seen == [False]


def test_second_job_reuses_the_resident_model(engine, request_for):
    eng, rec = engine
    first = eng.submit(request_for())
    second = eng.submit(request_for(seed=8))
    assert isinstance(rec.wait_for(second), Finished)
    assert isinstance(rec.wait_for(first), Finished)
    assert not any(isinstance(e, Loading) for e in rec.of(second))
    positions = [e.position for e in rec.events if isinstance(e, Queued)]
    assert positions[0] == 0 and positions[1] in (0, 1)  # 1 if the first job had not started yet


def test_bad_request_fails_as_input_without_raising(engine, request_for):
    eng, rec = engine
    job = eng.submit(request_for(width=65))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT
    assert "multiple of 8" in end.message
    ok = eng.submit(request_for())
    assert isinstance(rec.wait_for(ok), Finished)


def test_string_enums_are_accepted_and_unknown_ones_fail_as_input(engine, request_for):
    from PIL import Image

    eng, rec = engine
    image = Image.new("RGB", (64, 64), (20, 200, 30))
    ok = eng.submit(request_for(mode="img2img", init_image=image, strength=0.9, preview="latent"))
    end = rec.wait_for(ok)
    assert isinstance(end, Finished), end
    assert any(isinstance(e, Step) and e.preview_kind == "latent" for e in rec.of(ok))
    bad = rec.wait_for(eng.submit(request_for(mode="sketch")))
    assert isinstance(bad, Failed) and bad.kind is FailureKind.INPUT and "sketch" in bad.message


def test_strength_too_low_for_any_step_is_an_input_error(engine, request_for):
    from PIL import Image

    eng, rec = engine
    image = Image.new("RGB", (64, 64), (200, 30, 30))
    job = eng.submit(request_for(mode="img2img", init_image=image, steps=3, strength=0.2))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT and "strength" in end.message


def _spy_decode(eng, rec, request_for, monkeypatch):
    """Load the model, then count VAE decodes on the shared VAE."""
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    vae = eng._models.loaded.pipe.vae
    calls = []
    original = vae.decode

    def decode(*a, **kw):
        calls.append(1)
        return original(*a, **kw)

    monkeypatch.setattr(vae, "decode", decode)
    return calls


def test_cancel_running_job_stops_within_one_step_without_decoding(engine, request_for, monkeypatch):
    eng, rec = engine
    decodes = _spy_decode(eng, rec, request_for, monkeypatch)

    def cancel_at_step_2(event):
        if isinstance(event, Step) and event.total == 20 and event.step == 2:
            eng.cancel(event.job_id)

    rec.on_event = cancel_at_step_2
    gate = threading.Event()
    # Hold the worker inside step 2's callback until cancel() has run, so the check is exact.
    unet = eng._models.loaded.pipe.unet
    original_forward = unet.forward
    calls = []

    def slow_forward(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            gate.wait(10)
        return original_forward(*a, **kw)

    monkeypatch.setattr(unet, "forward", slow_forward)
    job = eng.submit(request_for(steps=20))
    rec.wait_event(lambda e: isinstance(e, Step) and e.job_id == job and e.step == 2)
    gate.set()
    end = rec.wait_for(job)
    assert isinstance(end, Cancelled), end
    assert end.at_step in (2, 3)
    assert max(e.step for e in rec.of(job) if isinstance(e, Step)) <= 3
    assert decodes == []


def _gated_loader(gate: threading.Event):
    from studio.engine.loading import load_pipeline

    def load(ref, **kw):
        assert gate.wait(30)
        return load_pipeline(ref, **kw)

    return load


def test_cancel_queued_job_removes_it(make_engine, request_for):
    gate = threading.Event()
    eng, rec = make_engine(loader=_gated_loader(gate))
    first = eng.submit(request_for(steps=2))
    rec.wait_event(lambda e: isinstance(e, Loading) and e.job_id == first)
    queued = eng.submit(request_for(steps=2, seed=99))
    last = eng.submit(request_for(steps=2, seed=98))
    assert eng.busy
    assert eng.cancel(queued)
    gate.set()
    assert isinstance(rec.wait_for(last), Finished)
    assert [e.position for e in rec.of(last) if isinstance(e, Queued)] == [1, 0]
    end = rec.wait_for(queued)
    assert isinstance(end, Cancelled) and end.at_step == 0
    assert isinstance(rec.wait_for(first), Finished)
    assert not any(isinstance(e, Started) for e in rec.of(queued))
    assert not eng.cancel(queued)


def test_cancel_while_loading_cancels_before_any_step(make_engine, request_for):
    gate = threading.Event()
    eng, rec = make_engine(loader=_gated_loader(gate))
    job = eng.submit(request_for(steps=2))
    rec.wait_event(lambda e: isinstance(e, Loading) and e.job_id == job)
    assert eng.cancel(job)
    gate.set()
    end = rec.wait_for(job)
    assert isinstance(end, Cancelled) and end.at_step == 0


def test_cancel_unknown_job_is_harmless(engine):
    eng, _ = engine
    assert eng.cancel(12345) is False


def test_shutdown_cancels_queued_jobs_and_stops(make_engine, request_for):
    eng, rec = make_engine()
    jobs = [eng.submit(request_for(steps=2, seed=s)) for s in range(3)]
    assert eng.shutdown(60.0)
    for job in jobs:
        assert isinstance(rec.wait_for(job, 5), Finished | Cancelled)
    assert isinstance(eng.submit(request_for()), int)  # after shutdown: no exception, no job
    assert not eng.busy


def test_preload_emits_model_ready_with_job_zero(engine, request_for, tiny_dir):
    eng, rec = engine
    eng.preload(str(tiny_dir))
    ready = rec.wait_event(lambda e: isinstance(e, ModelReady))
    assert ready.job_id == 0 and ready.device == "cpu" and "float32" in ready.dtype
    job = eng.submit(request_for())
    assert isinstance(rec.wait_for(job), Finished)
    assert not any(isinstance(e, Loading) for e in rec.of(job))


def test_publish_errors_do_not_stop_the_engine(make_engine, request_for):
    eng, rec = make_engine()
    rec.on_event = lambda e: (_ for _ in ()).throw(RuntimeError("subscriber bug"))
    job = eng.submit(request_for())
    # The recorder raises before recording, so nothing arrives; the engine still runs the job.
    rec.on_event = None
    second = eng.submit(request_for(seed=3))
    assert isinstance(rec.wait_for(second), Finished)
    del job


def test_torch_threads_setting(make_engine, request_for):
    import torch

    eng, rec = make_engine(torch_threads=1)
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    assert torch.get_num_threads() == 1
