"""The engine thread: event order, job handles, cancel (running and queued), shutdown, preload."""

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
from studio.core.plan import plan
from studio.core.request import PreviewKind, check_request


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
    assert any(isinstance(e, Step) and e.preview_kind is PreviewKind.LATENT for e in rec.of(ok))
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


def test_cancel_through_the_handle_stops_within_one_step_without_decoding(engine, request_for, monkeypatch):
    eng, rec = engine
    decodes = _spy_decode(eng, rec, request_for, monkeypatch)
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
    job.subscribe(lambda e: job.cancel() if isinstance(e, Step) and e.step == 2 else None)
    rec.wait_event(lambda e: isinstance(e, Step) and e.job_id == job.id and e.step == 2)
    gate.set()
    end = job.wait(60)
    assert isinstance(end, Cancelled), end
    assert rec.wait_for(job) is end and not job.cancel()  # ended: nothing left to cancel
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
    rec.wait_event(lambda e: isinstance(e, Loading) and e.job_id == first.id)
    queued = eng.submit(request_for(steps=2, seed=99))
    last = eng.submit(request_for(steps=2, seed=98))
    assert eng.busy
    assert queued.cancel()
    gate.set()
    assert isinstance(rec.wait_for(last), Finished)
    assert [e.position for e in rec.of(last) if isinstance(e, Queued)] == [1, 0]
    end = rec.wait_for(queued)
    assert isinstance(end, Cancelled) and end.at_step == 0
    assert isinstance(rec.wait_for(first), Finished)
    assert not any(isinstance(e, Started) for e in rec.of(queued))
    assert not queued.cancel() and not eng.cancel(queued.id)


def test_cancel_while_loading_cancels_before_any_step(make_engine, request_for):
    gate = threading.Event()
    eng, rec = make_engine(loader=_gated_loader(gate))
    job = eng.submit(request_for(steps=2))
    rec.wait_event(lambda e: isinstance(e, Loading) and e.job_id == job.id)
    assert job.cancel()
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
    late = eng.submit(request_for())  # after shutdown: no exception, no job
    assert late.done and late.rejection is not None and "shut down" in late.rejection.message
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
    heard = []

    def broken(event):
        heard.append(event)
        raise RuntimeError("subscriber bug")

    rec.on_event = broken  # the engine-wide subscriber raises on every event (before recording it)
    first = eng.submit(request_for())
    first.subscribe(broken)  # and so does a subscriber of the first job
    second = eng.submit(request_for(seed=3))
    got = []
    second.subscribe(got.append)
    assert isinstance(second.wait(120), Finished) and isinstance(first.outcome, Finished)
    assert rec.events == []  # every call raised: nothing was recorded
    for job in (first, second):  # the broken subscriber was still called for every event
        kinds = [type(e) for e in heard if e.job_id == job.id]
        assert kinds[0] is Queued and Started in kinds and kinds[-1] is Finished
    kinds = [type(e) for e in got]  # the following job lost nothing
    assert kinds[0] is Queued and kinds[-1] is Finished and Started in kinds
    assert [e.step for e in got if isinstance(e, Step)] == [1, 2, 3]


def test_a_handle_gets_only_its_own_jobs_events(engine, request_for):
    eng, rec = engine
    first, second = eng.submit(request_for(steps=2)), eng.submit(request_for(steps=3, seed=9))
    seen = {first.id: [], second.id: []}
    first.subscribe(seen[first.id].append)
    second.subscribe(seen[second.id].append)
    assert isinstance(second.wait(120), Finished) and isinstance(first.wait(120), Finished)
    for job, steps in ((first, 2), (second, 3)):
        events = seen[job.id]
        assert {e.job_id for e in events} == {job.id}
        assert isinstance(events[0], Queued)
        assert [e.step for e in events if isinstance(e, Step)] == list(range(1, steps + 1))
        assert isinstance(events[-1], Finished) and events[-1] is job.outcome
        assert [type(e) for e in events] == [type(e) for e in rec.of(job)]  # the same, in order
    late = []
    first.subscribe(late.append)  # a late subscriber gets the job's story replayed
    assert isinstance(late[0], Queued) and late[-1] is first.outcome


def test_a_rejected_request_ends_its_handle_at_once(engine, request_for):
    eng, rec = engine
    job = eng.submit(request_for(steps=0))
    assert job.done and job.rejection is job.outcome and job.rejection.kind is FailureKind.INPUT
    assert "Steps" in job.rejection.message
    assert rec.wait_for(job) == job.rejection  # the engine-wide subscriber hears of it too
    replayed = []
    job.subscribe(replayed.append)
    assert replayed == [job.rejection]


@pytest.mark.parametrize("area", ["whole", "masked"])
def test_started_reports_the_plan_the_engine_runs(engine, request_for, area):
    from PIL import Image, ImageDraw

    from studio.core.request import MaskOptions, Mode, OutpaintOptions

    eng, _ = engine
    picture = Image.effect_noise((96, 80), 60).convert("RGB")
    mask = Image.new("L", picture.size, 0)
    ImageDraw.Draw(mask).rectangle((60, 10, 80, 30), fill=255)
    opts = MaskOptions(grow=2, feather=2, area=area, padding=4)
    requests = [
        request_for(),
        request_for(mode=Mode.IMG2IMG, init_image=picture, strength=0.7, width=48, height=32),
        request_for(mode=Mode.INPAINT, init_image=picture, mask=mask, mask_options=opts, strength=1.0),
        request_for(
            mode="outpaint",
            init_image=picture,
            outpaint=OutpaintOptions(left=16, bottom=8),
            mask_options=opts,
        ),
    ]
    plans = []
    for request in requests:
        job = eng.submit(request)
        end = job.wait(120)
        assert isinstance(end, Finished), end
        expected = plan(check_request(request))
        assert job.plan == expected  # the Started event's plan is plan(request), images and mask too
        assert all(image.size == expected.result_size for image in end.images)
        plans.append(job.plan)
    assert [p.result_size for p in plans] == [(64, 64), (48, 32), (96, 80), (112, 88)]
    inpaint, outpaint = plans[2], plans[3]
    if area == "masked":  # the crop around the mask, inside the image
        assert inpaint.region != (0, 0, 96, 80) and inpaint.region_in_source == inpaint.region
    else:
        assert inpaint.region == (0, 0, 96, 80) and outpaint.region_in_source == (-16, 0, 96, 88)
    assert outpaint.origin == (-16, 0) and outpaint.margins == (16, 0, 0, 8)


def test_torch_threads_setting(make_engine, request_for):
    import torch

    eng, rec = make_engine(torch_threads=1)
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    assert torch.get_num_threads() == 1
