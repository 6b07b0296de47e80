"""The app's default CPU settings vs what a user would otherwise run (issue 15), side by side.

    python bench/bench_cpu_defaults.py [--size 256] [--steps 4] [--rounds 2]

On the random SD1.5-architecture weights of the bench cache (a diffusers folder), Euler, CFG 7:
- app defaults: studio-cli's path (the Engine loading the folder, precision "auto", default threads,
  previews every step, as the window runs them);
- app, old defaults: the Engine with fp32 and one torch thread (what Studio did before);
- plain diffusers defaults: `StableDiffusionPipeline.from_pretrained(folder)` (fp32) with torch's
  default thread count;
- plain diffusers bf16: the same with `torch_dtype=torch.bfloat16`.
Seconds per step = median gap between consecutive steps (the first step, with its warm-up, excluded),
wall clock; cases alternate round after round. Goal: the app's defaults within 5 % of the fastest
plain-diffusers setting. Stalls of the GUI thread: bench_stall.py.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import time
from typing import Any

from _common import load_average, print_header, print_table
from _models import sd15_folder

PROMPT = "a watercolour fox in a snowy forest, soft light"


def engine_case(folder: str, size: int, steps: int, precision: str, threads: int | None) -> float:
    from studio.core.events import Finished, ModelReady, Step
    from studio.core.request import GenerationRequest, PreviewKind
    from studio.engine.engine import Engine

    events: queue.SimpleQueue[Any] = queue.SimpleQueue()
    engine = Engine(events.put, device="cpu", precision=precision, torch_threads=threads)
    engine.start()
    request = GenerationRequest(
        prompt=PROMPT, model=folder, steps=steps, guidance=7.0, scheduler="Euler", seed=1,
        width=size, height=size, preview=PreviewKind.X0,
    )  # fmt: skip
    engine.submit(request)
    stamps: list[float] = []
    dtype = ""
    while True:
        event = events.get(timeout=1800)
        if isinstance(event, ModelReady):
            dtype = event.dtype
        if isinstance(event, Step):
            stamps.append(time.perf_counter())
        if isinstance(event, Finished):
            break
        if type(event).__name__ in ("Failed", "Cancelled"):
            raise RuntimeError(f"engine job ended: {event}")
    engine.shutdown(60)
    print(f"    engine ran in {dtype}", flush=True)
    return _per_step(stamps)


def plain_case(folder: str, size: int, steps: int, dtype_name: str) -> float:
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    kwargs = {} if dtype_name == "fp32" else {"dtype": torch.bfloat16}
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, **kwargs)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    stamps: list[float] = []

    def on_step(_pipe: Any, _i: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        stamps.append(time.perf_counter())
        return tensors

    pipe(PROMPT, num_inference_steps=steps, guidance_scale=7.0, width=size, height=size,
         generator=torch.Generator().manual_seed(1), callback_on_step_end=on_step)  # fmt: skip
    del pipe
    return _per_step(stamps)


def _per_step(stamps: list[float]) -> float:
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return statistics.median(gaps)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    print_header("CPU defaults: the app vs plain diffusers")
    folder = str(sd15_folder())
    default_threads = torch.get_num_threads()
    print(f"cores: {os.cpu_count()}, torch's default threads: {default_threads}")
    cases = {
        "app defaults (auto, default threads, previews)": lambda: engine_case(
            folder, args.size, args.steps, "auto", None
        ),
        "app, old defaults (fp32, 1 thread, previews)": lambda: engine_case(
            folder, args.size, args.steps, "fp32", 1
        ),
        "plain diffusers defaults (fp32)": lambda: plain_case(folder, args.size, args.steps, "fp32"),
        "plain diffusers bf16": lambda: plain_case(folder, args.size, args.steps, "bf16"),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else list(reversed(names)):
            torch.set_num_threads(default_threads)
            results[name].append(cases[name]())
            print(
                f"  round {r + 1}: {name}: {results[name][-1]:.2f} s/step (load {load_average()})", flush=True
            )
    medians = {name: statistics.median(v) for name, v in results.items()}
    fastest_plain = min(medians["plain diffusers defaults (fp32)"], medians["plain diffusers bf16"])
    print_table(
        f"s/step, SD1.5 architecture (random weights), {args.size}x{args.size}, Euler, CFG 7, {args.steps} steps",
        ["case", "s/step", "vs fastest plain diffusers"],
        [[name, f"{m:.2f}", f"{m / fastest_plain:.2f}x"] for name, m in medians.items()],
    )
    print("goal: app defaults ≤ 1.05x the fastest plain-diffusers setting")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
