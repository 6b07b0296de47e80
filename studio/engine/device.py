"""Device and dtype choice, out-of-memory detection, memory release.

torch is imported inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import gc
import logging
import os
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEVICES = ("auto", "cuda", "mps", "cpu")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


CPU_INFO = "/proc/cpuinfo"
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_native_bf16(cpuinfo: str = CPU_INFO) -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX).

    Without it torch emulates bf16 and a diffusion step is 5-20x slower than in float32
    (measured on an AVX2-only EPYC). Where the flags can't be read, assume it does.
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in NATIVE_BF16_FLAGS)
    except OSError:
        pass
    return True


def _mps_available(torch: ModuleType) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def choose_device(pref: str = "auto") -> str:
    """ "cuda", "mps" or "cpu". An explicit preference that is not available falls back with a warning."""
    import torch

    pref = (pref or "auto").lower()
    if pref not in DEVICES:
        log.warning("Unknown device preference %r; choosing automatically", pref)
        pref = "auto"
    if pref == "cpu":
        return "cpu"
    if pref in ("auto", "cuda") and torch.cuda.is_available():
        return "cuda"
    if pref in ("auto", "mps") and _mps_available(torch):
        return "mps"
    if pref != "auto":
        log.warning("Device %r is not available here; using the CPU", pref)
    return "cpu"


def choose_dtype(device: str, precision: str = "auto") -> torch.dtype:
    """torch dtype for ``device``: CUDA fp16 (bf16 if asked and supported), MPS fp16, CPU fp32 (bf16 if asked)."""
    import torch

    precision = (precision or "auto").lower()
    if precision not in PRECISIONS:
        log.warning("Unknown precision %r; choosing automatically", precision)
        precision = "auto"
    kind = device.split(":", 1)[0]
    if precision == "fp32":
        return torch.float32
    if kind == "cuda":
        if precision == "bf16" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if precision == "bf16":
            log.warning("This GPU has no bfloat16 support; using float16")
        return torch.float16
    if kind == "mps":
        if precision == "bf16":
            log.warning("bfloat16 is not used on MPS; using float16")
        return torch.float16
    if precision == "bf16" and cpu_has_native_bf16():
        return torch.bfloat16
    if precision == "bf16":
        log.warning("This CPU has no bfloat16 hardware (bf16 would be many times slower); using float32")
        return torch.float32
    if precision == "fp16":
        log.warning("float16 is slow and unsupported for many CPU ops; using float32 on the CPU")
    return torch.float32


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA/MPS/CPU out-of-memory errors (also when wrapped as the cause of another error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_oom_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_oom_one(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        oom_cls = getattr(torch.cuda, "OutOfMemoryError", None)
        if oom_cls is not None and isinstance(exc, oom_cls):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text
    return False


def free_memory() -> None:
    """Collect garbage and release cached accelerator memory."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.ipc_collect()
    if _mps_available(torch):
        try:
            torch.mps.empty_cache()
        except (AttributeError, RuntimeError):
            log.debug("torch.mps.empty_cache unavailable", exc_info=True)


# UNets at least this large run faster in bf16 on a CPU with bf16 hardware; smaller ones slower.
# Measured (Intel Xeon with AVX-512 BF16 + AMX, 1 thread): SD1.5's UNet (860M) 2.1x faster in bf16
# (1.32 vs 2.77 s/step at 256 px); the built-in model's (~17M) 10-60 % slower (1.66-2.44 vs 1.41-1.51 s
# per 20-step image): its matrices are too small for the bf16 kernels to pay off.
BF16_MIN_UNET_PARAMS = 200_000_000
ENGINE_NICE = 5  # the engine thread's niceness (and its OpenMP workers'): the GUI thread comes first


def auto_cpu_bf16(device: str, precision: str) -> bool:
    """Whether "auto" precision may run large models in bf16 here (a CPU with bf16 hardware)."""
    return device == "cpu" and (precision or "auto").lower() == "auto" and cpu_has_native_bf16()


def auto_gpu_bf16_for_dit(device: str, precision: str) -> bool:
    """Whether "auto" precision loads SD3 / Flux in bf16 on this GPU instead of fp16: they are trained
    and published in bf16, and their T5 encoder overflows float16 (NaN images)."""
    import torch

    if not device.startswith("cuda") or (precision or "auto").lower() != "auto":
        return False
    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def bf16_pays_off(unet_params: int) -> bool:
    return unet_params >= BF16_MIN_UNET_PARAMS


def threads_for_model(unet_params: int, cores: int | None = None) -> int:
    """Every core for an SD-sized UNet; one for a small one (the built-in model): its ops are too small
    to split, and two threads made its 20-step job 25 % slower (bench_stall.py: 1.25 vs 1.00 s)."""
    return max(1, cores or default_torch_threads()) if bf16_pays_off(unet_params) else 1


def default_torch_threads() -> int:
    """Every core: the engine thread runs at a lower priority (`lower_thread_priority`) and idle
    OpenMP workers sleep (OMP_WAIT_POLICY=PASSIVE), so the GUI thread still gets a core when it needs
    one (bench/bench_stall.py) without leaving one idle while the engine computes."""
    return max(1, os.cpu_count() or 1)


def lower_thread_priority(nice: int = ENGINE_NICE) -> bool:
    """Raise the calling thread's niceness by `nice` (Linux: per thread; threads it starts later,
    such as torch's OpenMP workers, inherit it). False where the platform has no per-thread niceness."""
    import threading

    setpriority = getattr(os, "setpriority", None)
    if setpriority is None or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:
        log.debug("Could not lower the engine thread's priority", exc_info=True)
        return False
    return True
