"""Preview cost per step vs the denoising step time.

The engine thread pays for: the NaN check on the latents, x0 (the predicted clean latents; computed
from the model output for DPM++ 2M), the 4x3 latent->RGB map and its transfer to numpy. The GUI
thread pays for: numpy -> QImage (a copy), QPixmap.fromImage, and painting it into the preview
widget (640x640). Goal: ≤ 2 ms per step on the CPU at 512x512 (64x64 latents).

    python bench/bench_preview.py             # ~1 min (builds an SD1.5-architecture UNet for the step time)
    python bench/bench_preview.py --no-sd15   # preview costs and studio-mini only, seconds
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from _common import (
    Samples,
    builtin_model_present,
    fmt_s,
    interleave,
    percentile,
    print_header,
    print_table,
    set_threads,
    torch_dtype,
)

GOAL_MS = 2.0
GUI_SIZE = 640


def scheduler_state(latent_side: int, dtype: Any) -> tuple[Any, Any, Any]:
    """A DPM++ 2M Karras scheduler (the default) wrapped by the engine's X0Capture, one step taken."""
    import torch
    from _models import SCHEDULER

    from studio.core.schedulers import DEFAULT_SCHEDULER
    from studio.engine.preview import X0Capture
    from studio.engine.schedulers import create_scheduler

    scheduler = create_scheduler(
        DEFAULT_SCHEDULER, {**SCHEDULER, "_class_name": "DPMSolverMultistepScheduler"}
    )
    scheduler.set_timesteps(20)
    capture = X0Capture(scheduler)
    gen = torch.Generator().manual_seed(0)
    latents = (
        torch.randn((1, 4, latent_side, latent_side), generator=gen).to(dtype) * scheduler.init_noise_sigma
    )
    noise = torch.randn((1, 4, latent_side, latent_side), generator=gen).to(dtype)
    latents = scheduler.step(noise, scheduler.timesteps[0], latents).prev_sample
    return scheduler, capture, latents


def engine_cases(latent_side: int, dtype_name: str) -> dict[str, Callable[[], Any]]:
    import numpy as np
    import torch

    from studio.core.request import PreviewKind
    from studio.engine.latent_rgb import SD1_BIAS, SD1_FACTORS, LatentRGB
    from studio.engine.preview import PreviewMaker

    _sched, capture, latents = scheduler_state(latent_side, torch_dtype(dtype_name))
    rgb = LatentRGB(np.asarray(SD1_FACTORS, np.float32), np.asarray(SD1_BIAS, np.float32), "sd1")
    maker = PreviewMaker(PreviewKind.X0, 1, rgb, capture)
    x0 = capture.x0()
    return {
        "NaN check (torch.isfinite)": lambda: bool(torch.isfinite(latents).all()),
        "x0 from model output": lambda: capture.x0(),
        "latent->RGB + to numpy": lambda: rgb.to_rgb(x0[0]),
        "whole engine preview (make)": lambda: maker.make(latents),
        "alt: latent->RGB in numpy (no torch threads)": lambda: numpy_rgb(x0[0], rgb.factors, rgb.bias),
    }


def numpy_rgb(latent: Any, factors: Any, bias: Any) -> Any:
    """The same 4x3 map as LatentRGB.to_rgb, as per-channel multiply-adds in numpy.

    A candidate replacement: it never enters torch's OpenMP pool, whose spinning threads make the
    einsum take milliseconds when the CPU is contended (see docs/BENCHMARKS.md).
    """
    import numpy as np

    x = latent.float().cpu().numpy()  # (C, h, w)
    out = np.empty((x.shape[1], x.shape[2], 3), np.float32)
    out[:] = bias
    for c in range(x.shape[0]):
        out += x[c, :, :, None] * factors[c]
    return np.clip((out + 1.0) * 127.5, 0, 255).astype(np.uint8)


def gui_cases(side: int) -> dict[str, Callable[[], Any]]:
    import numpy as np
    from PySide6.QtGui import QImage, QPixmap

    from studio.ui.images import array_to_qimage
    from studio.ui.widgets.image_view import ImageView

    array = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    view = ImageView()
    view.resize(GUI_SIZE, GUI_SIZE)
    target = QImage(GUI_SIZE, GUI_SIZE, QImage.Format.Format_ARGB32_Premultiplied)
    qimage = array_to_qimage(array)

    def paint() -> None:
        view.render(target)

    def whole() -> None:
        view.set_image(array_to_qimage(array), "Preview x0 · step 1/20")
        paint()

    return {
        "numpy -> QImage (copy)": lambda: array_to_qimage(array),
        "QPixmap.fromImage": lambda: QPixmap.fromImage(qimage),
        "paint preview widget 640x640": paint,
        "whole GUI preview (set_image + paint)": whole,
    }


def time_cases(cases: dict[str, Callable[[], Any]], reps: int) -> dict[str, Samples]:
    return interleave(cases, reps, warmup=3)


def rows_for(label: str, thread: str, samples: dict[str, Samples]) -> list[list[str]]:
    return [
        [label, thread, name, fmt_s(s.median), fmt_s(percentile(s.values, 99))] for name, s in samples.items()
    ]


def mini_latent_side() -> int | None:
    if not builtin_model_present():
        return None
    import json

    from studio.core.paths import builtin_model_dir

    cfg = json.loads((builtin_model_dir() / "unet" / "config.json").read_text("utf-8"))
    return int(cfg["sample_size"])


def step_times(args: argparse.Namespace) -> list[tuple[str, float]]:
    """Denoising step times (UNet with guidance = batch 2, plus the scheduler) for context."""
    found: list[tuple[str, float]] = []
    if builtin_model_present():
        found.append(("studio-mini fp32", mini_step_time()))
    if not args.no_sd15:
        for dtype in args.sd15_dtypes.split(","):
            found.append((f"SD1.5 arch. {dtype}, 512x512", sd15_step_time(dtype)))
    return found


def unet_step(unet: Any, side: int, context_dim: int, dtype: Any, reps: int) -> float:
    import torch

    x = torch.randn(2, 4, side, side, dtype=dtype)
    ctx = torch.randn(2, 77, context_dim, dtype=dtype)
    t = torch.tensor([500, 500])
    times = []
    with torch.inference_mode():
        for _ in range(reps + 1):
            t0 = time.perf_counter()
            unet(x, t, encoder_hidden_states=ctx)
            times.append(time.perf_counter() - t0)
    return sorted(times[1:])[len(times[1:]) // 2]


def mini_step_time() -> float:
    import torch

    from studio.engine.loading import load_pipeline

    pipe = load_pipeline("", device="cpu", dtype=torch.float32).pipe
    cfg = pipe.unet.config
    return unet_step(pipe.unet, int(cfg.sample_size), int(cfg.cross_attention_dim), torch.float32, 10)


def sd15_step_time(dtype_name: str) -> float:

    from _models import SD15_UNET, shipped_config

    dtype = torch_dtype(dtype_name)
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_config(shipped_config("sd1", "unet") or SD15_UNET).to(dtype).eval()
    return unet_step(unet, 64, 768, dtype, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 = the engine setting)")
    parser.add_argument("--no-sd15", action="store_true", help="skip the SD1.5 step time (saves ~40 s)")
    parser.add_argument(
        "--sd15-dtypes", default="bf16", help="dtypes for the SD1.5 step time, e.g. bf16,fp32"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    set_threads(args.threads)
    print_header("Preview cost per step")
    sides = [("512x512 (64x64 latents)", 64, 64)]
    side = mini_latent_side()
    if side is not None:
        sides.append((f"studio-mini ({side}x{side} latents)", side, side))
    sides.append(("SDXL 1024x1024 (128x128 latents)", 128, 128))
    rows: list[list[str]] = []
    totals: list[tuple[str, float, float]] = []
    for label, latent_side, preview_side in sides:
        for dtype in ("fp32", "bf16"):
            eng = time_cases(engine_cases(latent_side, dtype), args.reps)
            rows += rows_for(f"{label} {dtype}", "engine", eng)
            gui = time_cases(gui_cases(preview_side), max(50, args.reps // 3))
            rows += rows_for(f"{label} {dtype}", "GUI", gui)
            engine_total = (
                eng["whole engine preview (make)"].median + eng["NaN check (torch.isfinite)"].median
            )
            totals.append(
                (f"{label} {dtype}", engine_total, gui["whole GUI preview (set_image + paint)"].median)
            )
    print_table(
        "Preview cost per component (median, p99)", ["case", "thread", "component", "median", "p99"], rows
    )
    print_summary(totals, step_times(args))
    del app
    return 0


def print_summary(totals: list[tuple[str, float, float]], steps: list[tuple[str, float]]) -> None:
    rows = []
    for label, engine_s, gui_s in totals:
        total = engine_s + gui_s
        verdict = "meets" if total * 1000 <= GOAL_MS else "MISSES"
        rows.append([label, fmt_s(engine_s), fmt_s(gui_s), fmt_s(total), f"{verdict} ≤ {GOAL_MS:g} ms"])
    print_table(
        "Preview cost per step (engine + GUI thread)", ["case", "engine", "GUI", "total", "goal"], rows
    )
    if not steps or not totals:
        return
    step_rows = []
    for name, seconds in steps:
        prefix = "studio-mini" if name.startswith("studio-mini") else "512x512"
        dtype = "bf16" if "bf16" in name else "fp32"
        match = [e + g for label, e, g in totals if label.startswith(prefix) and label.endswith(dtype)]
        share = f"{match[0] / seconds * 100:.2f}%" if match else "-"
        step_rows.append([name, fmt_s(seconds), fmt_s(match[0]) if match else "-", share])
    print_table(
        "Step time for context (UNet batch 2 = with guidance)",
        ["model", "step time", "its preview", "preview / step"],
        step_rows,
    )


if __name__ == "__main__":
    raise SystemExit(main())
