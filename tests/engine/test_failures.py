"""Every failure becomes a Failed event with a usable message, and the next job runs normally."""

from __future__ import annotations

import torch

from studio.core.events import Failed, FailureKind, Finished, Loading


def _loaded_engine(engine, request_for):
    eng, rec = engine
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    return eng, rec, eng._models.loaded.pipe


def _next_job_finishes(eng, rec, request_for):
    job = eng.submit(request_for(seed=11))
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    return job


def test_missing_model_path(engine, request_for, tmp_path):
    eng, rec = engine
    end = rec.wait_for(eng.submit(request_for(model=str(tmp_path / "nowhere" / "model.safetensors"))))
    assert isinstance(end, Failed) and end.kind is FailureKind.MODEL
    assert "not found" in end.message.lower()
    _next_job_finishes(eng, rec, request_for)


def test_corrupt_model_file(engine, request_for, tmp_path):
    eng, rec = engine
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a safetensors file at all" * 10)
    end = rec.wait_for(eng.submit(request_for(model=str(bad))))
    assert isinstance(end, Failed) and end.kind is FailureKind.MODEL, end
    assert end.message and "Traceback" not in end.message
    _next_job_finishes(eng, rec, request_for)


def test_forced_nan_in_the_unet(engine, request_for, monkeypatch):
    eng, rec, pipe = _loaded_engine(engine, request_for)
    original = pipe.unet.forward

    def nan_forward(*a, **kw):
        out = original(*a, **kw)
        return (out[0] * float("nan"),) if isinstance(out, tuple) else out

    monkeypatch.setattr(pipe.unet, "forward", nan_forward)
    end = rec.wait_for(eng.submit(request_for(steps=4)))
    assert isinstance(end, Failed) and end.kind is FailureKind.NAN
    assert "NaN" in end.message and "fp32" in end.message
    monkeypatch.undo()
    _next_job_finishes(eng, rec, request_for)


def test_nan_from_the_decoder_is_caught(engine, request_for, monkeypatch):
    eng, rec, pipe = _loaded_engine(engine, request_for)
    original = pipe.vae.decode

    def nan_decode(*a, **kw):
        out = original(*a, **kw)
        return (out[0] * float("nan"),)

    monkeypatch.setattr(pipe.vae, "decode", nan_decode)
    end = rec.wait_for(eng.submit(request_for()))
    assert isinstance(end, Failed) and end.kind is FailureKind.NAN
    monkeypatch.undo()
    _next_job_finishes(eng, rec, request_for)


def test_out_of_memory_unloads_the_model(engine, request_for, monkeypatch):
    eng, rec, pipe = _loaded_engine(engine, request_for)

    def oom(*a, **kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.unet, "forward", oom)
    end = rec.wait_for(eng.submit(request_for()))
    assert isinstance(end, Failed) and end.kind is FailureKind.OUT_OF_MEMORY
    assert "unloaded" in end.message
    assert eng._models.loaded is None
    monkeypatch.undo()
    job = _next_job_finishes(eng, rec, request_for)
    assert any(isinstance(e, Loading) for e in rec.of(job)), "the model is loaded again"


def test_cpu_style_out_of_memory_runtime_error(engine, request_for, monkeypatch):
    eng, rec, pipe = _loaded_engine(engine, request_for)

    def oom(*a, **kw):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(pipe.unet, "forward", oom)
    end = rec.wait_for(eng.submit(request_for()))
    assert isinstance(end, Failed) and end.kind is FailureKind.OUT_OF_MEMORY
    monkeypatch.undo()
    _next_job_finishes(eng, rec, request_for)


def test_internal_error_has_message_and_traceback(engine, request_for, monkeypatch):
    eng, rec, pipe = _loaded_engine(engine, request_for)

    def broken(*a, **kw):
        raise KeyError("mid_block")

    monkeypatch.setattr(pipe.unet, "forward", broken)
    end = rec.wait_for(eng.submit(request_for()))
    assert isinstance(end, Failed) and end.kind is FailureKind.INTERNAL
    assert "KeyError" in end.message and "Traceback" in end.detail and "broken" in end.detail
    monkeypatch.undo()
    _next_job_finishes(eng, rec, request_for)


def test_failed_preload_reports_job_zero(engine, tmp_path, request_for):
    eng, rec = engine
    eng.preload(str(tmp_path / "missing-folder"))
    end = rec.wait_event(lambda e: isinstance(e, Failed))
    assert end.job_id == 0 and end.kind is FailureKind.MODEL
    _next_job_finishes(eng, rec, request_for)
