"""Measure per-step time with and without previews, and the preview cost per step, on the tiny model.

    python -m tests.engine.preview_timing [--size 64] [--steps 30] [--reps 5] [--threads 1] [--device cpu]

Runs the real Engine (worker thread, events) on the tiny pipeline. Modes are interleaved per
repetition (order reversed every other one) so a busy machine affects them alike; on a loaded
2-core machine two runs of the *same* mode differ by up to ~20%, so trust the direct preview cost. Step time = median gap between consecutive Step
events; preview cost = time spent inside ``PreviewMaker.make`` (measured on the engine thread).
"""

from __future__ import annotations

import argparse
import logging
import queue
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from studio.core.events import TERMINAL_EVENTS, Finished, Step
from studio.core.request import GenerationRequest, PreviewKind

MODES = (PreviewKind.NONE, PreviewKind.X0, PreviewKind.LATENT)


def _timed_make(samples: list[float]) -> Any:
    from studio.engine import preview

    original = preview.PreviewMaker.make

    def make(self: Any, latents: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, latents)
        finally:
            samples.append(time.perf_counter() - start)

    preview.PreviewMaker.make = make  # type: ignore[method-assign]
    return original


def _run(engine: Any, request: GenerationRequest) -> list[float]:
    events: queue.SimpleQueue = queue.SimpleQueue()
    engine.submit(request).subscribe(events.put)  # this job's events only
    times: list[float] = []
    while True:
        event = events.get(timeout=600)
        if isinstance(event, Step):
            times.append(event.elapsed)
        if isinstance(event, TERMINAL_EVENTS):
            assert isinstance(event, Finished), event
            return [b - a for a, b in zip(times, times[1:], strict=False)]


def measure(size: int, steps: int, reps: int, threads: int, device: str) -> dict[str, dict[str, float]]:
    from studio.engine.engine import Engine
    from tests.tiny_model import save_tiny_diffusers

    folder = save_tiny_diffusers(Path(tempfile.mkdtemp()) / "tiny")
    engine = Engine(
        lambda event: None, device=device, torch_threads=threads, cache_dir=Path(tempfile.mkdtemp())
    )
    engine.start()
    base = GenerationRequest(prompt="a red apple", model=str(folder), steps=steps, width=size, height=size)
    base = base.replace(scheduler="Euler a", guidance=5.0)
    _run(engine, base.replace(steps=3, preview=PreviewKind.X0))  # load + warm up
    gaps: dict[str, list[float]] = {m.value: [] for m in MODES}
    costs: dict[str, list[float]] = {m.value: [] for m in MODES}
    for rep in range(reps):
        for mode in MODES if rep % 2 == 0 else MODES[::-1]:  # alternate the order against drift
            samples: list[float] = []
            original = _timed_make(samples)
            try:
                gaps[mode.value] += _run(engine, base.replace(preview=mode))
            finally:
                from studio.engine import preview

                preview.PreviewMaker.make = original  # type: ignore[method-assign]
            costs[mode.value] += samples
    engine.shutdown(30)
    return {
        m: {
            "step_ms": 1000 * statistics.median(gaps[m]),
            "preview_ms": 1000 * statistics.median(costs[m]) if costs[m] else 0.0,
        }
        for m in gaps
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = measure(args.size, args.steps, args.reps, args.threads, args.device)
    print(
        f"tiny model {args.size}x{args.size}, {args.steps} steps x {args.reps} reps, Euler a, CFG 5, "
        f"{args.threads} thread(s), {args.device}"
    )
    none = result["none"]["step_ms"]
    for mode, r in result.items():
        share = r["preview_ms"] / r["step_ms"] if r["step_ms"] else 0.0
        print(
            f"  preview={mode:<6} step {r['step_ms']:7.2f} ms ({r['step_ms'] / none - 1:+6.1%} vs none)"
            f"   preview {r['preview_ms']:6.3f} ms/step ({share:.1%} of a step)"
        )


if __name__ == "__main__":
    main()
