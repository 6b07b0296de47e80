"""Shared helpers for the benchmarks: environment header, timing, A/B interleaving, tables, models.

Every benchmark measures its cases side by side in one process run: the cases alternate
(A B C, C B A, A B C, ...) so slow drifts (another process, thermal, caches) hit all of them alike,
and the table reports medians. Plain prints on purpose (bench/ is allowed to print).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/x.py` from anywhere; tests/ holds the tiny model
    sys.path.insert(0, str(REPO))

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # keep library chatter out of the tables
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CACHE_DIR = Path(os.environ.get("STUDIO_BENCH_CACHE", Path.home() / ".cache" / "studio-bench"))
PROMPT = "a watercolour fox in a snowy forest, soft light"
NEGATIVE = "blurry"


# ---------------------------------------------------------------------------------------------
# Environment


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return platform.processor() or "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def versions() -> dict[str, str]:
    found: dict[str, str] = {"python": platform.python_version()}
    for name in ("torch", "diffusers", "transformers", "PySide6"):
        try:
            module = __import__(name)
            found[name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            found[name] = "missing"
    return found


def print_header(title: str, *, import_libs: bool = True) -> None:
    """Title, date, hardware and library versions (importing torch etc. unless told not to)."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    libs = versions() if import_libs else {"python": platform.python_version()}
    print(f"== {title} ==")
    print(f"date: {now} | cpu: {cpu_model()} x {os.cpu_count()} | load: {load_average()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in libs.items()))
    print(f"command: python {' '.join(sys.argv)}")
    print()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ---------------------------------------------------------------------------------------------
# Timing and interleaving


def now() -> float:
    return time.perf_counter()


@dataclass
class Samples:
    """Wall-clock samples (seconds) of one case."""

    name: str
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repetitions were."""
        if len(self.values) < 2 or not self.median:
            return 0.0
        return (max(self.values) - min(self.values)) / self.median


def interleave(
    cases: dict[str, Callable[[], Any]],
    reps: int,
    *,
    warmup: int = 1,
    on_rep: Callable[[int, str, float], None] | None = None,
) -> dict[str, Samples]:
    """Run every case ``reps`` times, alternating order each round (ABC, CBA, ...); return samples.

    ``warmup`` untimed rounds come first (first calls in a process are slow).
    A case may return a float: that number is recorded instead of its wall time (for cases that
    time themselves, e.g. submit-to-terminal-event of an engine job).
    """
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    samples = {name: Samples(name) for name in names}
    for rep in range(reps):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            t0 = now()
            result = cases[name]()
            seconds = result if isinstance(result, float) else now() - t0
            samples[name].values.append(seconds)
            if on_rep is not None:
                on_rep(rep, name, seconds)
    return samples


def progress_printer(prefix: str = "  ") -> Callable[[int, str, float], None]:
    def report(rep: int, name: str, seconds: float) -> None:
        print(f"{prefix}rep {rep + 1}: {name:<28} {seconds:8.3f} s", flush=True)

    return report


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


# ---------------------------------------------------------------------------------------------
# Tables


def fmt_s(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "-"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio: float) -> str:
    return "-" if ratio != ratio else f"{ratio:.3f} ({(ratio - 1) * 100:+.1f}%)"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A GitHub-markdown table (pastes straight into docs/BENCHMARKS.md)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    print(f"### {title}")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(flush=True)


# ---------------------------------------------------------------------------------------------
# torch set-up


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def torch_dtype(name: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


# ---------------------------------------------------------------------------------------------
# Models


def builtin_model_present() -> bool:
    from studio.core.paths import builtin_model_dir

    return (builtin_model_dir() / "model_index.json").is_file()


def tiny_pipeline(seed: int = 0) -> Any:
    from tests.tiny_model import build_tiny_pipeline

    return build_tiny_pipeline(seed)


def tiny_folder() -> Path:
    """The tiny test model saved as a diffusers folder (made once, cached)."""
    from tests.tiny_model import save_tiny_diffusers

    folder = CACHE_DIR / "tiny"
    if not (folder / "model_index.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        save_tiny_diffusers(folder)
    return folder


# ---------------------------------------------------------------------------------------------
# Running torch work on a dedicated thread (the engine runs on one; the baseline must too)


class WorkerThread:
    """A long-lived thread with its own torch thread count that runs the callables given to ``call``.

    torch's intra-op thread count is per calling thread (OpenMP), so a baseline that should match
    the engine's set-up has to run on a thread configured the same way.
    """

    def __init__(self, torch_threads: int, name: str = "bench-worker") -> None:
        import queue
        import threading

        self._jobs: queue.Queue[Any] = queue.Queue()
        self._threads = torch_threads
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import torch

        torch.set_num_threads(self._threads)
        while True:
            item = self._jobs.get()
            if item is None:
                return
            fn, done = item
            try:
                done.put((True, fn()))
            except BaseException as exc:  # handed back to the caller
                done.put((False, exc))

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the worker thread and wait (blocking, no polling) for its result."""
        import queue

        done: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self._jobs.put((fn, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(5)


def paired_ratio(a: Samples, b: Samples) -> float:
    """Median over rounds of b[i] / a[i]: each pair ran back to back, so drift cancels."""
    pairs = [y / x for x, y in zip(a.values, b.values, strict=False) if x > 0]
    return statistics.median(pairs) if pairs else float("nan")
