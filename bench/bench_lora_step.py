"""One denoising step with a fused LoRA vs without: the per-step cost the ≤ 3 % goal is about.

    python bench/bench_lora_step.py [--config sd15:bf16] [--size 256] [--rounds 12] [--clock cpu|wall]

Whole jobs on a shared 2-core VM vary by ±20 % from job to job (bench_overhead.py --lora), which hides
a 3 % difference. This measures the step itself: the UNet forward of a guided step (batch 2) on the
same inputs, alternating "LoRA applied through studio.engine.lora.applied_loras (fused)" and "none"
round after round (A B, B A, ...); the ratio is the median of per-round ratios of the medians of
3 forwards each (after one untimed forward per case and round). Applying and removing the LoRA sit
outside the timed region (bench_overhead.py --lora times them).

The default clock is the calling thread's CPU time with one torch thread: torch then computes in that
thread, and the time it spends descheduled while other processes run (the wall-clock noise on a shared
VM) is not counted. Cache and memory-bandwidth contention still count; `--clock wall` measures
perf_counter instead.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import load_average, print_header, print_table
from bench_overhead import lora_file, sd15_from_cache

FORWARDS_PER_ROUND = 3


def forward_seconds(unet: Any, inputs: tuple[Any, Any, Any], clock: Callable[[], float]) -> float:
    import torch

    latents, timestep, text = inputs
    times = []
    with torch.inference_mode():
        unet(latents, timestep, encoder_hidden_states=text)  # untimed: the first pass after weights change
        for _ in range(FORWARDS_PER_ROUND):
            t0 = clock()
            unet(latents, timestep, encoder_hidden_states=text)
            times.append(clock() - t0)
    return statistics.median(times)


def forward_flops(unet: Any, inputs: tuple[Any, Any, Any]) -> int:
    """FLOPs of one forward as torch's FlopCounterMode counts them (matmuls, convolutions,
    attention): deterministic, unlike seconds on a shared VM."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    latents, timestep, text = inputs
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        unet(latents, timestep, encoder_hidden_states=text)
    return int(counter.get_total_flops())


def step_inputs(unet: Any, size: int) -> tuple[Any, Any, Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    side = size // 8
    dtype = unet.dtype
    latents = torch.randn(2, unet.config.in_channels, side, side, generator=gen).to(dtype)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=gen).to(dtype)
    return latents, torch.tensor(500), text


def measure(
    pipe: Any, size: int, rounds: int, clock: Callable[[], float]
) -> tuple[list[float], list[float], int]:
    from studio.engine.lora import ResolvedLora, applied_loras

    path, count = lora_file(pipe.unet, "sd15")
    loras = [ResolvedLora("bench", path, 1.0)]
    inputs = step_inputs(pipe.unet, size)
    forward_seconds(pipe.unet, inputs, clock)  # warm-up
    flops_none = forward_flops(pipe.unet, inputs)
    with applied_loras(pipe, "sd1", loras):
        flops_lora = forward_flops(pipe.unet, inputs)
    print(
        f"  FLOPs per forward: none {flops_none:,}, LoRA {flops_lora:,} (ratio {flops_lora / flops_none:.4f})"
    )
    none_times, lora_times = [], []
    for r in range(rounds):
        order = ("none", "lora") if r % 2 == 0 else ("lora", "none")
        for case in order:
            if case == "none":
                none_times.append(forward_seconds(pipe.unet, inputs, clock))
            else:
                with applied_loras(pipe, "sd1", loras):
                    lora_times.append(forward_seconds(pipe.unet, inputs, clock))
        print(f"  round {r + 1}: none {none_times[-1]:.3f} s, LoRA {lora_times[-1]:.3f} s", flush=True)
    return none_times, lora_times, count


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="sd15:bf16", help="sd15:bf16 or sd15:fp32")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: the calling thread's CPU time (with --threads 1 torch computes in that thread, so "
        "time spent descheduled by other processes does not count); wall: perf_counter",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = args.config.split(":")[1]
    print_header("One step with a fused LoRA vs none")
    pipe = sd15_from_cache(dtype)
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu needs --threads 1 (other torch threads' CPU time would not be counted)")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    print(f"clock: {args.clock} ({clock.__name__}), torch threads: {args.threads}")
    none_times, lora_times, count = measure(pipe, args.size, args.rounds, clock)
    ratios = [b / a for a, b in zip(none_times, lora_times, strict=True)]
    ratio = statistics.median(ratios)
    print(f"load average after: {load_average()}\n")
    print_table(
        "UNet forward of a guided step (batch 2), fused LoRA vs none, paired medians",
        [
            "model",
            "size",
            "clock",
            "LoRA layers",
            "rounds",
            "step, none",
            "step, LoRA",
            "ratio",
            "ratio range",
        ],
        [
            [
                args.config,
                f"{args.size}x{args.size}",
                args.clock,
                str(count),
                str(args.rounds),
                f"{statistics.median(none_times):.3f} s",
                f"{statistics.median(lora_times):.3f} s",
                f"{ratio:.3f} ({(ratio - 1) * 100:+.1f}%)",
                f"{min(ratios):.3f}-{max(ratios):.3f}",
            ]
        ],
    )
    print("goal: ≤ 1.030 (+3.0%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
