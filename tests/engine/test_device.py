"""engine.device: device/dtype choice, OOM detection, memory release."""

from __future__ import annotations

import pytest
import torch

from studio.engine import device as dev  # noqa: E402


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda _torch: False)


def test_choose_device_cpu_when_nothing_else(no_gpu):
    assert dev.choose_device("auto") == "cpu"
    assert dev.choose_device("cuda") == "cpu"
    assert dev.choose_device("mps") == "cpu"
    assert dev.choose_device("nonsense") == "cpu"
    assert dev.choose_device("cpu") == "cpu"


def test_choose_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda _torch: True)
    assert dev.choose_device("auto") == "cuda"
    assert dev.choose_device("mps") == "mps"
    assert dev.choose_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.choose_device("auto") == "mps"


def test_choose_dtype(monkeypatch):
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: True)
    assert dev.choose_dtype("cpu") == torch.float32
    assert dev.choose_dtype("cpu", "fp16") == torch.float32
    assert dev.choose_dtype("cpu", "bf16") == torch.bfloat16
    monkeypatch.setattr(dev, "cpu_has_native_bf16", lambda: False)
    assert dev.choose_dtype("cpu", "bf16") == torch.float32
    assert dev.choose_dtype("mps") == torch.float16
    assert dev.choose_dtype("mps", "fp32") == torch.float32
    assert dev.choose_dtype("cuda") == torch.float16
    assert dev.choose_dtype("cuda:0", "fp32") == torch.float32
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert dev.choose_dtype("cuda", "bf16") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert dev.choose_dtype("cuda", "bf16") == torch.float16


def test_is_out_of_memory():
    assert dev.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert dev.is_out_of_memory(MemoryError())
    assert dev.is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert dev.is_out_of_memory(
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
    )
    wrapped = ValueError("step failed")
    wrapped.__cause__ = MemoryError()
    assert dev.is_out_of_memory(wrapped)
    assert not dev.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not dev.is_out_of_memory(ValueError("bad"))


def test_free_memory_runs_everywhere():
    dev.free_memory()


def test_cpu_has_native_bf16_reads_the_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    assert dev.cpu_has_native_bf16(str(info)) is False
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert dev.cpu_has_native_bf16(str(info)) is True
    assert dev.cpu_has_native_bf16(str(tmp_path / "missing")) is True
