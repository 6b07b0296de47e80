"""Engine overhead: a txt2img job through the app's Engine vs the same request as one plain diffusers call.

Three cases on the same in-memory pipeline (same model, size, steps, scheduler, seed, thread count),
run interleaved: plain diffusers (no callback), Engine with an x0 preview every step, Engine with
previews off. Goals: Engine ≤ 3 % slower with previews every step, ≤ 1 % with previews off.

    python bench/bench_overhead.py            # studio-mini fp32 + SD1.5-architecture bf16, 512x512 (~4 min)
    python bench/bench_overhead.py --full     # adds studio-mini bf16 and SD1.5 fp32 (~10 min)
    python bench/bench_overhead.py --quick    # tiny test model, seconds (CI smoke)
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import (
    Samples,
    fmt_ratio,
    fmt_s,
    interleave,
    paired_ratio,
    print_header,
    print_table,
    progress_printer,
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
GOALS = {"preview": 1.03, "off": 1.01}


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="mini:fp32,sd15:bf16", help="model:dtype list (tiny, mini, sd15)"
    )
    parser.add_argument("--full", action="store_true", help="mini fp32+bf16 and sd15 bf16+fp32")
    parser.add_argument("--quick", action="store_true", help="tiny model only (CI smoke)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads, both paths (1 = the engine setting)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.configs, args.steps, args.reps = "tiny:fp32", 4, 3
    elif args.full:
        args.configs = "mini:fp32,mini:bf16,sd15:bf16,sd15:fp32"
    print_header("Engine overhead vs plain diffusers (txt2img)")
    print(
        f"steps {args.steps}, reps {args.reps}, torch threads {args.threads}, scheduler DPM++ 2M Karras, CFG 7"
    )
    rows = []
    sd15_cache: dict[str, Any] = {}
    for config in parse_configs(args.configs):
        print(f"-- {config.model} {config.dtype}", flush=True)
        with model_for(config, sd15_cache) as found:
            if found is not None:
                rows.append(measure(config, found[0], found[1], args))
    print()
    print_table("Engine overhead (ratios: engine / plain, paired medians)", HEADERS, rows)
    print(
        f"goals: preview every step ≤ {fmt_ratio(GOALS['preview'])}, previews off ≤ {fmt_ratio(GOALS['off'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
