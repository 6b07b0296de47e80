"""GPU throughput: the app's Engine vs plain diffusers, and the speed-ups, against the compute floor.

SD1.5 (512x512) and SDXL (1024x1024) architectures with random weights, fp16, batch 1 with
guidance (the UNet runs at batch 2), 20 steps, DPM++ 2M Karras. Variants, all run interleaved:

    plain                  one diffusers call, no callback (SDPA attention, diffusers' default)
    engine                 the same request through studio.engine.Engine (preview every step)
    channels_last+fused    plain, UNet/VAE in channels_last and fused QKV projections
    compile                plain + torch.compile(UNet, mode="max-autotune-no-cudagraphs")
    compile+cudagraphs     plain + torch.compile(UNet, mode="reduce-overhead") (CUDA graphs)
    engine+fast path       the Engine on a pipeline prepared by studio.engine.fastpath.apply_fast_path

Per-step time is measured by difference, (T(20 steps) - T(10 steps)) / 10, so text encoding and
the VAE decode drop out; it/s = 1 / per-step time. The compute floor is UNet FLOPs per step
(counted with torch.utils.flop_counter, next to the usual estimates: SD1.5 ≈ 1.6 TFLOP, SDXL ≈
13.5 TFLOP with guidance) over the GPU's dense fp16 peak (H100/H200 SXM ≈ 989 TFLOP/s).

    python bench/bench_gpu.py                   # needs CUDA; ~10-20 min with compilation
    python bench/bench_gpu.py --archs sd15 --variants plain,engine,channels_last+fused
    python bench/bench_gpu.py --smoke           # CPU, tiny model, 2 steps, no compile (CI)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _common import Samples, fmt_s, interleave, print_header, print_table
from _harness import EngineHarness, PlainRunner, loaded_model, make_request

VARIANTS = ("plain", "engine", "channels_last+fused", "compile", "compile+cudagraphs", "engine+fast path")
COMPILE_MODES = {"compile": "max-autotune-no-cudagraphs", "compile+cudagraphs": "reduce-overhead"}
PEAK_FP16_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0}
HEADERS = [
    "arch",
    "variant",
    "call (steps)",
    "per step",
    "it/s",
    "vs plain",
    "first call",
    "floor/step",
    "% of peak",
]


@dataclass
class Arch:
    name: str
    size: int
    tflop_estimate: float | None  # per step, UNet with guidance
    build: Callable[[Any, str], Any]  # (dtype, device) -> pipeline
    family: str = "sd1"


def archs(smoke: bool) -> dict[str, Arch]:
    from _models import sd15_pipeline, sdxl_pipeline

    if smoke:
        from _common import tiny_pipeline

        return {"tiny": Arch("tiny", 64, None, lambda dtype, device: tiny_pipeline().to(device, dtype))}
    return {
        "sd15": Arch("SD1.5", 512, 1.6, lambda dtype, device: sd15_pipeline(dtype, device)),
        "sdxl": Arch("SDXL", 1024, 13.5, lambda dtype, device: sdxl_pipeline(dtype, device), "sdxl"),
    }


def variant_pipe(base: Any, variant: str, device: str) -> Any:
    """A pipeline for ``variant``: the base one, or one with its own UNet/VAE copies prepared."""
    import copy

    from studio.engine import fastpath

    if variant in ("plain", "engine"):
        return base
    pipe = type(base).from_pipe(base, unet=copy.deepcopy(base.unet), vae=copy.deepcopy(base.vae))
    pipe.set_progress_bar_config(disable=True)
    if variant == "engine+fast path":
        fastpath.apply_fast_path(pipe, device, mode=COMPILE_MODES["compile"])
        return pipe
    fastpath.to_channels_last(pipe)
    fastpath.fuse_qkv(pipe)
    if variant in COMPILE_MODES:
        fastpath.compile_unet(pipe, COMPILE_MODES[variant])
    return pipe


class Runner:
    """Runs a request on one variant (plain call or Engine job); returns wall seconds (synchronised)."""

    def __init__(self, variant: str, pipe: Any, arch: Arch, device: str, precision: str) -> None:
        threads = 1 if device == "cpu" else os.cpu_count() or 2  # CPU smoke: no oversubscription
        self.engine: EngineHarness | None = None
        self.plain: PlainRunner | None = None
        if variant.startswith("engine"):
            loaded = loaded_model(pipe, f"bench-{arch.name}-{variant}", arch.name, family=arch.family)
            self.engine = EngineHarness(loaded, precision=precision, threads=threads, device=device)
            self.engine.preload()
        else:
            self.plain = PlainRunner(pipe, threads=threads)

    def run(self, request: Any) -> float:
        if self.engine is not None:
            return self.engine.run(request).seconds
        assert self.plain is not None
        return self.plain.run(request)

    def close(self) -> None:
        for part in (self.engine, self.plain):
            if part is not None:
                part.close()


def unet_tflop(pipe: Any, arch: Arch, device: str, dtype: Any) -> float | None:
    """FLOPs of one UNet call at batch 2 (guidance), counted by torch's FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    unet = pipe.unet
    side = arch.size // int(pipe.vae_scale_factor)
    cfg = unet.config
    x = torch.randn(2, int(cfg.in_channels), side, side, device=device, dtype=dtype)
    ctx = torch.randn(2, 77, int(cfg.cross_attention_dim), device=device, dtype=dtype)
    kwargs: dict[str, Any] = {}
    if cfg.get("addition_embed_type") == "text_time":
        pooled = int(cfg.projection_class_embeddings_input_dim) - 6 * int(cfg.addition_time_embed_dim)
        kwargs["added_cond_kwargs"] = {
            "text_embeds": torch.randn(2, pooled, device=device, dtype=dtype),
            "time_ids": torch.zeros(2, 6, device=device, dtype=dtype),
        }
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        unet(x, torch.tensor([500, 500], device=device), encoder_hidden_states=ctx, **kwargs)
    return counter.get_total_flops() / 1e12


def peak_tflops(device: str, override: float | None) -> float | None:
    if override:
        return override
    if not device.startswith("cuda"):
        return None
    import torch

    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_FP16_TFLOPS.items() if k in name), None)


def wanted_variants(args: argparse.Namespace) -> list[str]:
    from studio.engine.fastpath import _triton_available

    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    if args.smoke or not _triton_available():
        skipped = [v for v in chosen if v in COMPILE_MODES]
        if skipped:
            print(
                f"(skipping {', '.join(skipped)}: {'smoke run' if args.smoke else 'Triton is not installed'})"
            )
        chosen = [v for v in chosen if v not in COMPILE_MODES]
    return chosen


def measure_arch(arch: Arch, args: argparse.Namespace, device: str) -> list[list[Any]]:
    import torch

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    precision = "fp16" if dtype == torch.float16 else "fp32"
    base = arch.build(dtype, device)
    counted = unet_tflop(base, arch, device, dtype)
    peak = peak_tflops(device, args.peak_tflops)
    print(
        f"-- {arch.name} {arch.size}x{arch.size}: UNet {counted:.2f} TFLOP/step counted "
        f"(estimate {arch.tflop_estimate or '-'}), peak {peak or '-'} TFLOP/s",
        flush=True,
    )
    full, half = args.steps, max(1, args.steps // 2)
    runners: dict[str, Runner] = {}
    first: dict[str, float] = {}
    try:
        for variant in wanted_variants(args):
            runners[variant] = Runner(variant, variant_pipe(base, variant, device), arch, device, precision)
            first[variant] = runners[variant].run(request_for(runners[variant], arch, full))
            print(f"  first call {variant:<22} {first[variant]:8.2f} s (includes compilation)", flush=True)
        cases = {
            f"{v}|{n}": (lambda r=r, n=n: r.run(request_for(r, arch, n)))
            for v, r in runners.items()
            for n in (full, half)
        }
        samples = interleave(cases, args.reps, warmup=0 if args.smoke else 1)
    finally:
        for runner in runners.values():
            runner.close()
    floor_s = (counted or arch.tflop_estimate or 0) / peak if peak else None
    return rows_for(arch, runners, samples, first, full, half, floor_s)


def request_for(runner: Runner, arch: Arch, steps: int) -> Any:
    ref = runner.engine.loaded.ref if runner.engine is not None else "plain"
    return make_request(ref, arch.size, steps, preview=True)


def rows_for(
    arch: Arch,
    runners: dict[str, Runner],
    samples: dict[str, Samples],
    first: dict[str, float],
    full: int,
    half: int,
    floor_s: float | None,
) -> list[list[Any]]:
    per_step = {
        v: (samples[f"{v}|{full}"].median - samples[f"{v}|{half}"].median) / max(1, full - half)
        for v in runners
    }
    base = per_step.get("plain")
    rows = []
    for v in runners:
        step = per_step[v]
        rows.append(
            [
                f"{arch.name} {arch.size}",
                v,
                f"{fmt_s(samples[f'{v}|{full}'].median)} ({full})",
                fmt_s(step),
                f"{1 / step:.2f}" if step > 0 else "-",
                f"{base / step:.2f}x" if base and step > 0 else "-",
                fmt_s(first[v]),
                fmt_s(floor_s) if floor_s else "-",
                f"{floor_s / step * 100:.0f}%" if floor_s and step > 0 else "-",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny model, 2 steps, no compile (CI)")
    parser.add_argument("--archs", default="sd15,sdxl")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense fp16 peak of this GPU")
    args = parser.parse_args(argv)
    import torch

    if args.smoke:
        args.archs, args.steps, args.reps = "tiny", 2, 1
        device = "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
        torch.backends.cudnn.benchmark = True
    else:
        print("No CUDA GPU here: run with --smoke for the CPU smoke path.")
        return 2
    print_header("GPU throughput: engine vs plain diffusers, speed-ups, compute floor")
    if device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name()} | fp16, batch 1 with guidance, {args.steps} steps")
    available = archs(args.smoke)
    rows: list[list[Any]] = []
    for key in args.archs.split(","):
        rows += measure_arch(available[key.strip()], args, device)
        if device == "cuda":
            torch.cuda.empty_cache()
    print()
    half = max(1, args.steps // 2)
    title = f"GPU throughput (medians; per step = difference of {args.steps} and {half} steps)"
    print_table(title, HEADERS, rows)
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"(total {time.perf_counter() - start:.0f} s)")
    raise SystemExit(code)
