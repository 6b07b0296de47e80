"""SD3 / Flux (diffusion transformers) through the Engine vs one plain diffusers call, and what the
flow-matching previews cost.

Architectures (random weights, no downloads): on CUDA the transformer and VAE at the sizes of
Studio's shipped configs (``resources/configs/sd3-medium``, ``flux-dev``; bf16, 1024x1024) with
one-layer text encoders of the right widths (text encoding is not what is measured); with
``--smoke`` the tiny test models (tests/dit_models.py) on the CPU at 64x64. Variants, interleaved:

    plain            one diffusers call, no callback, FlowMatchEuler from the model's config
    engine           the same request through studio.engine.Engine, no previews
    engine+preview   the Engine with an x0 preview every step (x_t - sigma*v, Flux unpacked, latent->RGB)

Per-step time is measured by difference, (T(steps) - T(steps/2)) / (steps/2), so text encoding and
the VAE decode drop out.

    python bench/bench_dit.py                 # needs CUDA (~24 GB for Flux dev in bf16)
    python bench/bench_dit.py --archs sd3
    python bench/bench_dit.py --smoke         # CPU, tiny models, 2 steps
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _common import REPO, Samples, fmt_s, interleave, print_header, print_table
from _harness import EngineHarness, loaded_model

HEADERS = ["arch", "variant", "per step", "it/s", "vs plain", "previews"]
VARIANTS = ("plain", "engine", "engine+preview")


def _config(variant: str, component: str) -> dict[str, Any]:
    path = REPO / "studio" / "resources" / "configs" / variant / component / "config.json"
    cfg = json.loads(path.read_text(encoding="utf-8"))
    cfg.pop("_class_name", None)
    return cfg


def _clip(hidden: int, with_projection: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        hidden_size=hidden,
        projection_dim=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=1,
        num_attention_heads=hidden // 64,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg)


def _t5(width: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(d_model=width, d_kv=64, d_ff=width, num_layers=1, num_heads=width // 64))


def full_pipeline(family: str, device: str, dtype: Any) -> Any:
    """The shipped config's transformer + VAE (random), one-layer text encoders, on ``device``."""
    import diffusers
    import torch

    from tests.dit_models import _clip_tokenizer, tiny_t5_tokenizer

    variant = "sd3-medium" if family == "sd3" else "flux-dev"
    cls = diffusers.SD3Transformer2DModel if family == "sd3" else diffusers.FluxTransformer2DModel
    with torch.device(device):
        transformer = cls.from_config(_config(variant, "transformer")).to(dtype)
        vae = diffusers.AutoencoderKL.from_config(_config(variant, "vae")).to(dtype)
        width = int(transformer.config.joint_attention_dim)
        scheduler_cfg = json.loads(
            (REPO / "studio/resources/configs" / variant / "scheduler/scheduler_config.json").read_text()
        )
        scheduler = diffusers.FlowMatchEulerDiscreteScheduler.from_config(scheduler_cfg)
        if family == "sd3":
            parts = {
                "text_encoder": _clip(768, True).to(dtype),
                "text_encoder_2": _clip(1280, True).to(dtype),
                "text_encoder_3": _t5(width).to(dtype),
                "tokenizer": _clip_tokenizer(),
                "tokenizer_2": _clip_tokenizer(),
                "tokenizer_3": tiny_t5_tokenizer(),
            }
            pipe = diffusers.StableDiffusion3Pipeline(
                transformer=transformer, vae=vae, scheduler=scheduler, **parts
            )
        else:
            parts = {
                "text_encoder": _clip(768, False).to(dtype),
                "text_encoder_2": _t5(width).to(dtype),
                "tokenizer": _clip_tokenizer(),
                "tokenizer_2": tiny_t5_tokenizer(),
            }
            pipe = diffusers.FluxPipeline(transformer=transformer, vae=vae, scheduler=scheduler, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_pipeline(family: str) -> Any:
    from tests.dit_models import build_tiny_flux, build_tiny_sd3

    return build_tiny_sd3() if family == "sd3" else build_tiny_flux()


def request(ref: str, size: int, steps: int, preview: bool) -> Any:
    from studio.core.request import GenerationRequest, PreviewKind

    return GenerationRequest(
        prompt="a red cat in the snow",
        model=ref,
        steps=steps,
        guidance=3.5,
        scheduler="Euler",
        seed=1234,
        width=size,
        height=size,
        preview=PreviewKind.X0 if preview else PreviewKind.NONE,
    )


class Plain:
    """One plain diffusers call (no callback) on the same weights, a fresh flow scheduler each time."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = type(pipe).from_pipe(pipe)
        self.pipe.set_progress_bar_config(disable=True)
        self.config = dict(pipe.scheduler.config)

    def run(self, req: Any) -> float:
        import torch
        from diffusers import FlowMatchEulerDiscreteScheduler

        self.pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config(self.config)
        t0 = time.perf_counter()
        with torch.inference_mode():
            self.pipe(
                prompt=req.prompt,
                num_inference_steps=req.steps,
                guidance_scale=req.guidance,
                width=req.width,
                height=req.height,
                generator=torch.Generator(device="cpu").manual_seed(req.seed),
                output_type="np",
            )
        _sync()
        return time.perf_counter() - t0


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def measure(family: str, args: argparse.Namespace, device: str) -> list[list[Any]]:
    import torch

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    precision = "bf16" if device == "cuda" else "fp32"
    pipe = tiny_pipeline(family) if args.smoke else full_pipeline(family, device, dtype)
    size = 64 if args.smoke else 1024
    ref = f"bench-{family}"
    harness = EngineHarness(
        loaded_model(pipe, ref, f"{family} (random)", family=family),
        precision=precision,
        threads=args.threads,
        device=device,
    )
    plain = Plain(pipe)
    previews: dict[str, int] = {}

    def engine_run(steps: int, preview: bool, name: str) -> float:
        result = harness.run(request(ref, size, steps, preview))
        previews[name] = result.previews
        return result.seconds

    full, half = args.steps, max(1, args.steps // 2)
    runs = {
        "plain": lambda n: plain.run(request(ref, size, n, False)),
        "engine": lambda n: engine_run(n, False, "engine"),
        "engine+preview": lambda n: engine_run(n, True, "engine+preview"),
    }
    try:
        harness.preload()
        cases = {f"{v}|{n}": (lambda f=f, n=n: f(n)) for v, f in runs.items() for n in (full, half)}
        samples = interleave(cases, args.reps, warmup=0 if args.smoke else 1)
    finally:
        harness.close()
    rows = []
    per_step = {v: _per_step(samples[f"{v}|{full}"], samples[f"{v}|{half}"], full - half) for v in runs}
    for variant in VARIANTS:
        step = per_step[variant]
        ratio = step / per_step["plain"] if per_step["plain"] > 0 else float("nan")
        rows.append(
            [
                family,
                variant,
                fmt_s(step),
                f"{1 / step:.2f}" if step > 0 else "-",
                f"{ratio:.3f}",
                previews.get(variant, 0),
            ]
        )
    return rows


def _per_step(full: Samples, half: Samples, steps: int) -> float:
    return max(0.0, (full.median - half.median) / max(1, steps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny models, 2 steps")
    parser.add_argument("--archs", default="sd3,flux")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    if args.smoke:
        args.steps, args.reps, device = 2, 1, "cpu"
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print("No CUDA GPU here: run with --smoke for the CPU smoke path.")
        return 2
    print_header("SD3 / Flux: engine vs plain diffusers, preview cost")
    rows: list[list[Any]] = []
    for family in args.archs.split(","):
        rows += measure(family.strip(), args, device)
        if device == "cuda":
            torch.cuda.empty_cache()
    half = max(1, args.steps // 2)
    print_table(f"SD3 / Flux per step (medians; difference of {args.steps} and {half} steps)", HEADERS, rows)
    return 0


if __name__ == "__main__":
    start = time.perf_counter()
    code = main()
    print(f"(total {time.perf_counter() - start:.0f} s)")
    raise SystemExit(code)
