"""What a ControlNet unit costs per denoising step: UNet alone vs ControlNet + UNet (issue 14: ≤ 1.6x).

    python bench/bench_control.py [--config sd15:bf16] [--size 256] [--rounds 10] [--clock cpu|wall]
    python bench/bench_control.py --quick     # the tiny model, a few rounds (CI smoke)

One guided step (batch 2, as with CFG) on fixed inputs, the way diffusers' ControlNet pipeline runs it:
the ControlNet's forward (its copy of the UNet encoder + middle block, fed the control image) and then
the UNet with the ControlNet's residuals, vs the UNet's forward alone. The ControlNet is built from the
base UNet's config (`studio.engine.control.controlnet_config`, the architecture of the released SD1.5
ControlNets) with random weights. Cases alternate round after round (A B, B A, ...); one untimed
forward per case and round; the ratio is the median of per-round ratios of medians of 3 forwards.
Also the FLOPs of each case (torch's FlopCounterMode: deterministic). The default clock is the thread's
CPU time with one torch thread (time descheduled by other processes does not count).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import load_average, print_header, print_table, tiny_pipeline
from bench_overhead import sd15_from_cache

FORWARDS_PER_ROUND = 3


def build_controlnet(unet: Any) -> Any:
    import torch
    from diffusers import ControlNetModel

    from studio.engine.control import controlnet_config

    torch.manual_seed(0)
    return ControlNetModel.from_config(controlnet_config(dict(unet.config))).to(unet.dtype).eval()


def step_inputs(unet: Any, size: int) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(0)
    side = size // 8
    dtype = unet.dtype
    return {
        "latents": torch.randn(2, 4, side, side, generator=gen).to(dtype),
        "timestep": torch.tensor(500),
        "text": torch.randn(2, 77, unet.config.cross_attention_dim, generator=gen).to(dtype),
        "control": torch.rand(2, 3, size, size, generator=gen).to(dtype),
    }


def unet_only(unet: Any, controlnet: Any, x: dict[str, Any]) -> None:
    unet(x["latents"], x["timestep"], encoder_hidden_states=x["text"])


def with_controlnet(unet: Any, controlnet: Any, x: dict[str, Any]) -> None:
    down, mid = controlnet(
        x["latents"],
        x["timestep"],
        encoder_hidden_states=x["text"],
        controlnet_cond=x["control"],
        return_dict=False,
    )
    unet(
        x["latents"],
        x["timestep"],
        encoder_hidden_states=x["text"],
        down_block_additional_residuals=down,
        mid_block_additional_residual=mid,
    )


Case = Callable[[Any, Any, dict[str, Any]], None]


def seconds(case: Case, unet: Any, controlnet: Any, x: dict[str, Any], clock: Callable[[], float]) -> float:
    import torch

    times = []
    with torch.inference_mode():
        case(unet, controlnet, x)  # untimed
        for _ in range(FORWARDS_PER_ROUND):
            t0 = clock()
            case(unet, controlnet, x)
            times.append(clock() - t0)
    return statistics.median(times)


def flops(case: Case, unet: Any, controlnet: Any, x: dict[str, Any]) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        case(unet, controlnet, x)
    return int(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="sd15:bf16", help="sd15:bf16 or sd15:fp32")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny model, 2 rounds (CI smoke)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print_header("ControlNet unit vs UNet alone, one guided step")
    if args.quick:
        unet, label, size, rounds = tiny_pipeline().unet, "tiny:fp32", 64, 2
    else:
        unet, label, size, rounds = (
            sd15_from_cache(args.config.split(":")[1]).unet,
            args.config,
            args.size,
            args.rounds,
        )
    controlnet = build_controlnet(unet)
    x = step_inputs(unet, size)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    flops_unet, flops_cn = flops(unet_only, unet, controlnet, x), flops(with_controlnet, unet, controlnet, x)
    print(f"clock: {args.clock}, 1 torch thread; FLOPs: UNet {flops_unet:,}, ControlNet + UNet {flops_cn:,}")
    alone, both = [], []
    for r in range(rounds):
        order = (unet_only, with_controlnet) if r % 2 == 0 else (with_controlnet, unet_only)
        for case in order:
            (alone if case is unet_only else both).append(seconds(case, unet, controlnet, x, clock))
        print(f"  round {r + 1}: UNet {alone[-1]:.3f} s, ControlNet + UNet {both[-1]:.3f} s", flush=True)
    ratios = [b / a for a, b in zip(alone, both, strict=True)]
    print(f"load average after: {load_average()}\n")
    print_table(
        "One guided step (batch 2): ControlNet + UNet vs UNet alone, paired medians",
        [
            "model",
            "size",
            "clock",
            "rounds",
            "UNet",
            "ControlNet + UNet",
            "time ratio",
            "ratio range",
            "FLOP ratio",
        ],
        [
            [
                label,
                f"{size}x{size}",
                args.clock,
                str(rounds),
                f"{statistics.median(alone):.3f} s",
                f"{statistics.median(both):.3f} s",
                f"{statistics.median(ratios):.3f}",
                f"{min(ratios):.3f}-{max(ratios):.3f}",
                f"{flops_cn / flops_unet:.3f}",
            ]
        ],
    )
    print("goal: ≤ 1.6")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
