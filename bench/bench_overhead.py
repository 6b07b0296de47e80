"""Engine overhead: a txt2img job through the app's Engine vs the same request as one plain diffusers call.

Three cases on the same in-memory pipeline (same model, size, steps, scheduler, seed, thread count),
run interleaved: plain diffusers (no callback), Engine with an x0 preview every step, Engine with
previews off. Goals: Engine ≤ 3 % slower with previews every step, ≤ 1 % with previews off.

LoRA case (issue 13): the Engine with one random rank-16 LoRA on the UNet attention layers
(to_q/to_k/to_v/to_out.0, diffusers/peft format, saved once in the bench cache) vs the same Engine
without it, alternating, after a warm-up job and a first job of each. Reports the per-step time ratio (Step-event
gaps, paired per round; goal ≤ 1.03: the LoRA is fused into the weights) and the fixed per-job
cost of applying and removing it (job time difference, and a direct breakdown: load, set_adapters,
base-weight backup, fuse, unfuse, unload, restore).

    python bench/bench_overhead.py            # studio-mini fp32 + SD1.5-architecture bf16, 512x512,
                                              # then the LoRA case on SD1.5 bf16 256x256 (~4 + 4 min)
    python bench/bench_overhead.py --full     # adds studio-mini bf16 and SD1.5 fp32 (~10 min)
    python bench/bench_overhead.py --lora     # the LoRA case only (--lora-config, --lora-size, --lora-steps)
    python bench/bench_overhead.py --quick    # tiny test model, seconds (CI smoke; both cases)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import (
    CACHE_DIR,
    Samples,
    WorkerThread,
    fmt_ratio,
    fmt_s,
    interleave,
    load_average,
    paired_ratio,
    print_header,
    print_table,
    progress_printer,
    torch_dtype,
)
from _harness import Config, EngineHarness, PlainRunner, make_request, model_for, parse_configs

HEADERS = [
    "model",
    "dtype",
    "size",
    "steps",
    "plain diffusers",
    "engine, preview every step",
    "ratio",
    "engine, previews off",
    "ratio",
    "Δ per step (preview)",
    "step time",
    "spread",
]
GOALS = {"preview": 1.03, "off": 1.01, "lora": 1.03}
LORA_RANK = 16
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
LORA_HEADERS = [
    "model",
    "dtype",
    "size",
    "steps",
    "LoRA layers",
    "step, no LoRA",
    "step, LoRA",
    "per-step ratio",
    "job, no LoRA",
    "job, LoRA",
    "fixed cost per job",
    "first LoRA job cost",
    "spread",
]
PARTS = ["load", "set_adapters", "backup", "fuse", "unload", "restore"]


def measure(config: Config, loaded: Any, size: int, args: argparse.Namespace) -> list[Any]:
    harness = EngineHarness(loaded, precision=config.dtype, threads=args.threads)
    plain = PlainRunner(loaded.pipe, threads=args.threads)
    try:
        harness.preload()
        req_prev = make_request(loaded.ref, size, args.steps, preview=True)
        req_off = make_request(loaded.ref, size, args.steps, preview=False)
        # warm-up: one short call per path (first calls in a process are slow)
        plain.run(req_off.replace(steps=1))
        harness.run(req_prev.replace(steps=1))
        results: dict[str, list[Any]] = {"preview": [], "off": []}

        def engine_case(request: Any, key: str) -> float:
            result = harness.run(request)
            results[key].append(result)
            return result.seconds

        cases = {
            "plain": lambda: plain.run(req_off),
            "engine+preview": lambda: engine_case(req_prev, "preview"),
            "engine, no preview": lambda: engine_case(req_off, "off"),
        }
        samples = interleave(cases, args.reps, warmup=0, on_rep=progress_printer())
        return table_row(config, size, args.steps, samples, results)
    finally:
        harness.close()
        plain.close()


def table_row(
    config: Config, size: int, steps: int, s: dict[str, Samples], results: dict[str, list[Any]]
) -> list[Any]:
    base, prev, off = s["plain"], s["engine+preview"], s["engine, no preview"]
    r_prev, r_off = paired_ratio(base, prev), paired_ratio(base, off)
    delta_step = (prev.median - base.median) / steps
    step_time = median_step_time(results["off"])
    spread = max(x.spread for x in (base, prev, off))
    return [
        config.model,
        config.dtype,
        f"{size}x{size}",
        steps,
        fmt_s(base.median),
        fmt_s(prev.median),
        fmt_ratio(r_prev),
        fmt_s(off.median),
        fmt_ratio(r_off),
        f"{delta_step * 1000:+.1f} ms",
        fmt_s(step_time),
        f"{spread * 100:.1f}%",
    ]


def median_step_time(results: list[Any]) -> float:
    """Median gap between consecutive Step events (the denoising step time as the engine sees it)."""
    import statistics

    gaps = [b - a for r in results for a, b in zip(r.step_times, r.step_times[1:], strict=False)]
    return statistics.median(gaps) if gaps else float("nan")


# ------------------------------------------------------------------------------------------ LoRA


def lora_file(unet: Any, model: str, rank: int = LORA_RANK, seed: int = 3) -> tuple[Any, int]:
    """A random diffusers/peft LoRA (``unet.<module>.lora_A/lora_B``) for ``unet``'s attention layers,
    written once to the bench cache with diffusers' ``save_lora_weights``; (path, layer count)."""
    import torch
    from diffusers import StableDiffusionPipeline

    gen = torch.Generator().manual_seed(seed)
    layers: dict[str, Any] = {}
    for name, module in unet.named_modules():
        if not isinstance(module, torch.nn.Linear) or not name.endswith(LORA_TARGETS):
            continue
        # small deltas (B·A ~ 1e-2 of the weights): the images stay finite, the speed is the same
        down = torch.randn(rank, module.in_features, generator=gen) / module.in_features**0.5
        up = torch.randn(module.out_features, rank, generator=gen) * (0.01 / rank**0.5)
        layers[f"{name}.lora_A.weight"] = down
        layers[f"{name}.lora_B.weight"] = up
    count = len(layers) // 2
    path = CACHE_DIR / "lora" / f"{model}-attn-r{rank}-{count}.safetensors"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        StableDiffusionPipeline.save_lora_weights(
            str(path.parent), unet_lora_layers=layers, weight_name=path.name, safe_serialization=True
        )
    return path, count


def lora_parts(pipe: Any, path: Any, threads: int, reps: int) -> dict[str, float]:
    """Median seconds of each step of ``studio.engine.lora.applied_loras``, timed one by one (same
    calls, same order) on a thread with the engine's torch thread count."""
    import statistics

    import torch

    from studio.engine.lora import _backup_base_weights

    times: dict[str, list[float]] = {k: [] for k in PARTS}

    def once() -> None:
        def timed(key: str, fn: Any) -> Any:
            t0 = time.perf_counter()
            out = fn()
            times[key].append(time.perf_counter() - t0)
            return out

        timed("load", lambda: pipe.load_lora_weights(str(path), adapter_name="bench_lora"))
        timed("set_adapters", lambda: pipe.set_adapters(["bench_lora"], [1.0]))
        backups = timed("backup", lambda: _backup_base_weights(pipe))
        timed("fuse", lambda: pipe.fuse_lora(adapter_names=["bench_lora"], lora_scale=1.0))
        timed("unload", pipe.unload_lora_weights)  # right after the fuse, as applied_loras does

        def restore() -> None:
            with torch.no_grad():
                for base, weight in backups:
                    base.weight.copy_(weight)

        timed("restore", restore)

    worker = WorkerThread(threads, name="bench-lora-parts")
    try:
        for _ in range(reps):
            worker.call(once)
    finally:
        worker.close()
    return {k: statistics.median(v) for k, v in times.items()}


def measure_lora(
    config: Config, loaded: Any, size: int, steps: int, args: argparse.Namespace
) -> tuple[list[Any], dict[str, float]]:
    from studio.core.request import LoraRef

    path, count = lora_file(loaded.pipe.unet, config.model)
    print(f"  LoRA file: {path} (rank {LORA_RANK}, {count} layers)", flush=True)
    harness = EngineHarness(loaded, precision=config.dtype, threads=args.threads)
    try:
        harness.preload()
        req_none = make_request(loaded.ref, size, steps, preview=False)
        req_lora = req_none.replace(loras=(LoraRef(str(path), 1.0),))
        harness.run(req_none)  # warm-up (first calls in a process are slow)
        # first LoRA job (vs a job without): it also pays peft's one-time imports and set-up
        first_none = harness.run(req_none).seconds
        first_lora = harness.run(req_lora).seconds
        print(f"  first jobs: no LoRA {first_none:.2f} s, LoRA {first_lora:.2f} s", flush=True)
        results: dict[str, list[Any]] = {"none": [], "lora": []}

        def case(request: Any, key: str) -> float:
            result = harness.run(request)
            results[key].append(result)
            print(f"    ({key}: step {median_step_time([result]):.3f} s, load {load_average()})", flush=True)
            return result.seconds

        cases = {"no LoRA": lambda: case(req_none, "none"), "LoRA": lambda: case(req_lora, "lora")}
        samples = interleave(cases, args.reps, warmup=0, on_rep=progress_printer())
    finally:
        harness.close()
    parts = lora_parts(loaded.pipe, path, args.threads, reps=2)
    row = lora_row(config, size, steps, count, samples, results, first_lora - first_none)
    return row, parts


def lora_row(
    config: Config,
    size: int,
    steps: int,
    count: int,
    s: dict[str, Samples],
    results: dict[str, list[Any]],
    first_cost: float,
) -> list[Any]:
    import statistics

    none, lora = s["no LoRA"], s["LoRA"]
    step_none = [median_step_time([r]) for r in results["none"]]
    step_lora = [median_step_time([r]) for r in results["lora"]]
    step_ratio = paired_ratio(Samples("none", step_none), Samples("lora", step_lora))
    fixed = statistics.median(b - a for a, b in zip(none.values, lora.values, strict=False))
    return [
        config.model,
        config.dtype,
        f"{size}x{size}",
        steps,
        count,
        fmt_s(statistics.median(step_none)),
        fmt_s(statistics.median(step_lora)),
        fmt_ratio(step_ratio),
        fmt_s(none.median),
        fmt_s(lora.median),
        f"{fixed:+.2f} s",
        f"{first_cost:+.2f} s",
        f"{max(none.spread, lora.spread) * 100:.1f}%",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="mini:fp32,sd15:bf16", help="model:dtype list (tiny, mini, sd15)"
    )
    parser.add_argument("--full", action="store_true", help="mini fp32+bf16 and sd15 bf16+fp32")
    parser.add_argument("--quick", action="store_true", help="tiny model only (CI smoke)")
    parser.add_argument("--lora", action="store_true", help="the LoRA case only")
    parser.add_argument("--no-lora", action="store_true", help="skip the LoRA case")
    parser.add_argument("--lora-config", default="sd15:bf16", help="model:dtype for the LoRA case")
    parser.add_argument("--lora-size", type=int, default=256, help="image side for the LoRA case")
    parser.add_argument("--lora-steps", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads, both paths (1 = the engine setting)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.steps, args.reps = "tiny:fp32", 4, 3
        args.lora_config, args.lora_size, args.lora_steps = "tiny:fp32", 64, 4
    elif args.full:
        args.configs = "mini:fp32,mini:bf16,sd15:bf16,sd15:fp32"
    print_header("Engine overhead vs plain diffusers (txt2img)")
    print(
        f"steps {args.steps}, reps {args.reps}, torch threads {args.threads}, scheduler DPM++ 2M Karras, CFG 7"
    )
    sd15_cache: dict[str, Any] = {}
    if not args.lora:
        rows = []
        for config in parse_configs(args.configs):
            print(f"-- {config.model} {config.dtype}", flush=True)
            with model_for(config, sd15_cache) as found:
                if found is not None:
                    rows.append(measure(config, found[0], found[1], args))
        print()
        print_table("Engine overhead (ratios: engine / plain, paired medians)", HEADERS, rows)
        print(
            f"goals: preview every step ≤ {fmt_ratio(GOALS['preview'])}, "
            f"previews off ≤ {fmt_ratio(GOALS['off'])}"
        )
        print()
    if not args.no_lora:
        run_lora_case(args, sd15_cache)
    return 0


def sd15_from_cache(dtype: str) -> Any:
    """The random SD1.5 weights saved once in the bench cache (``_models.sd15_folder``)."""
    from _models import sd15_folder
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    pipe = StableDiffusionPipeline.from_pretrained(
        str(sd15_folder()), dtype=torch_dtype(dtype), safety_checker=None, feature_extractor=None
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_lora_case(args: argparse.Namespace, sd15_cache: dict[str, Any]) -> None:
    (config,) = parse_configs(args.lora_config)
    print(
        f"-- LoRA case: {config.model} {config.dtype}, {args.lora_size}x{args.lora_size}, "
        f"{args.lora_steps} steps, reps {args.reps}, load {load_average()}",
        flush=True,
    )
    if config.model == "sd15" and "pipe" not in sd15_cache:
        sd15_cache["pipe"] = sd15_from_cache(config.dtype)  # faster than random init
    with model_for(config, sd15_cache) as found:
        if found is None:
            return
        row, parts = measure_lora(config, found[0], args.lora_size, args.lora_steps, args)
    print(f"load average after: {load_average()}")
    print()
    print_table(
        "LoRA overhead (Engine with one LoRA, fused, vs none; per-step ratio = paired medians)",
        LORA_HEADERS,
        [row],
    )
    print(f"goal: per-step ratio ≤ {fmt_ratio(GOALS['lora'])}")
    print()
    total = sum(parts.values())
    print_table(
        "LoRA apply + remove, step by step (medians of 2, outside a job)",
        [*PARTS, "total"],
        [[fmt_s(parts[k]) for k in PARTS] + [fmt_s(total)]],
    )


if __name__ == "__main__":
    raise SystemExit(main())
