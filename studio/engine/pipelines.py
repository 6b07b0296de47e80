"""A `GenerationRequest` and its `GenerationPlan` -> the pipeline call(s) for its mode -> PIL images.

The geometry (regions, sizes, the effective mask, the outpaint canvas) is the plan's
(`studio.core.plan`); this module only runs it:
- txt2img / img2img: the family's pipeline (an inpainting model runs them through its inpaint
  pipeline with a full mask, as A1111 does).
- txt2img with the hires fix: the first pass at the plan's generation size, the upscale
  (`engine.hires`: latents, or decoded pixels), then an img2img pass at the result size with the
  hires steps and denoising strength, the same prompts and seeds; the steps reported run on from the
  first pass into the second. Control units act on the first pass only.
- inpaint / outpaint: the plan's region of the plan's image, pre-filled under the mask (masked
  content), generated at the plan's size, pasted back and composited through the plan's effective
  mask, so every pixel where that mask is 0 is byte-identical to the input.

Batch image i uses seed + i, with its own CPU generator (same latents on every device).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

from studio.core.plan import GenerationPlan
from studio.core.request import GenerationRequest, Mode
from studio.engine import dit
from studio.engine.conditioning import prompt_conditioning
from studio.engine.control import prepare
from studio.engine.models import ModelManager
from studio.engine.runner import CallContext, run_pipeline, run_pipeline_latents, to_pil

if TYPE_CHECKING:
    import torch

    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

T = TypeVar("T")
Runner = Callable[["Pipeline", dict[str, object], CallContext], T]


class RequestError(ValueError):
    """The request cannot be run as given (shown to the artist as an input problem)."""


def generate(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    """Run ``request`` as ``plan`` on the resident model; returns one image of ``plan.result_size``
    per batch seed."""
    if dit.is_dit(models.family):
        try:
            dit.refuse_unsupported(models.family, request)
        except ValueError as exc:
            raise RequestError(str(exc)) from exc
    if plan.mode is Mode.TXT2IMG:
        return _txt2img(request, plan, models, ctx)
    if request.uses_upscale:
        return _upscale(request, plan, models, ctx)
    if plan.mode is Mode.IMG2IMG:
        return _img2img(request, plan, models, ctx)
    return _inpaint(request, plan, models, ctx)


def _generators(seeds: list[int]) -> list[torch.Generator]:
    import torch

    return [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]


def _common(request: GenerationRequest) -> dict[str, object]:
    seeds = request.seeds()
    return {
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        "num_images_per_prompt": len(seeds),
        "generator": _generators(seeds),
    }


def _call(
    models: ModelManager,
    mode: Mode,
    request: GenerationRequest,
    plan: GenerationPlan,
    ctx: CallContext,
    **kw: object,
) -> list[Image.Image]:
    return to_pil(_run_call(run_pipeline, models, mode, request, plan, ctx, **kw))


def _run_call(
    run: Runner[T],
    models: ModelManager,
    mode: Mode,
    request: GenerationRequest,
    plan: GenerationPlan,
    ctx: CallContext,
    **kw: object,
) -> T:
    pipe = models.pipeline_for(mode, request.scheduler, request.seeds())
    if dit.is_dit(models.family):  # SD3 / Flux: plain prompts, their own guidance (studio.engine.dit)
        result = run(pipe, dit.call_kwargs(pipe, request, _common(request), kw), ctx)
        return dit.fit_output(result, dit.requested_size(kw))  # generated at sides rounded up to 16
    # ControlNet / adapters (also without controls: an IP-Adapter left in the UNet is taken out)
    control = prepare(request, plan, mode, pipe, models, models.controls)
    pipe, extra = control.pipe or pipe, control.kwargs
    ctx.step_hooks = control.step_hooks
    ctx.control_hashes.update(control.hashes)
    # the prompts as A1111 reads them (weights, BREAK, long prompts, clip skip, embeddings), encoded
    # here and passed as embeddings; the request's embeddings are loaded for this call only
    with prompt_conditioning(pipe, request) as conditioning:
        ctx.embedding_hashes.update(conditioning.embedding_hashes)
        return run(pipe, {**_common(request), **conditioning.kwargs, **kw, **extra}, ctx)


def _txt2img(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    if request.uses_hires:
        return _hires_fix(request, plan, models, ctx)
    return to_pil(_first_pass(run_pipeline, request, plan, models, ctx))


def _first_pass(
    run: Runner[T],
    request: GenerationRequest,
    plan: GenerationPlan,
    models: ModelManager,
    ctx: CallContext,
) -> T:
    """txt2img at the plan's generation size (through the inpaint pipeline for an inpainting model)."""
    width, height = plan.generation_size
    size = {"width": width, "height": height}
    if not models.is_inpaint_model:
        return _run_call(run, models, Mode.TXT2IMG, request, plan, ctx, **size)
    blank = Image.new("RGB", (width, height), (127, 127, 127))
    full = Image.new("L", blank.size, 255)
    return _run_call(
        run, models, Mode.INPAINT, request, plan, ctx, image=blank, mask_image=full, strength=1.0, **size
    )


def _hires_fix(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    """Two passes: txt2img at the base size, the upscale, img2img at the result size."""
    from studio.engine import hires

    if dit.is_dit(models.family):  # a latent upscaler becomes Lanczos (warned in Started: dit.job_warnings)
        request = dit.as_run(request)
    options, size = request.hires, plan.result_size
    ctx.call_steps = request.steps
    if hires.is_latent(options.upscaler):
        latents = _first_pass(run_pipeline_latents, request, plan, models, ctx)
        pipe = _resident(models)
        upscaled = hires.upscale_latents(latents, options.upscaler, size, int(pipe.vae_scale_factor))
        start: object = upscaled
        if models.is_inpaint_model or int(pipe.vae.config.latent_channels) != 4:
            start = hires.decode_latents(pipe, upscaled)  # these pipelines take pixels only
    else:
        images = to_pil(_first_pass(run_pipeline, request, plan, models, ctx))
        start = hires.upscale_pixels(images, options.upscaler, size, request.upscaler_dirs, models.device)
    ctx.step_offset, ctx.call_steps = request.steps, request.hires_pass_steps
    second = request.replace(steps=options.steps or request.steps, strength=options.denoise, controls=())
    return _img2img_from(start, size, second, plan, models, ctx)


def _upscale(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    """ "Upscale…" with a tiled refine: each tile through img2img at the refine strength (the steps
    reported run on from tile to tile; `engine.upscale_job`, `engine.tiled`)."""
    from studio.engine.tiled import vae_tiling
    from studio.engine.upscale_job import run_upscale

    tile_request = request.replace(strength=request.upscale.refine)
    per_tile = request.denoising_steps

    def refine(tile: Image.Image, index: int, _count: int) -> Image.Image:
        ctx.step_offset, ctx.call_steps = index * per_tile, per_tile
        return _img2img_from(tile, tile.size, tile_request, plan, models, ctx)[0]

    if not request.upscale.refine:
        return run_upscale(request, plan, ctx, models.device)
    with vae_tiling(_resident(models)):
        return run_upscale(request, plan, ctx, models.device, refine)


def _img2img(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    image = _required(plan.image)
    return _img2img_from(image, image.size, request, plan, models, ctx)


def _img2img_from(
    image: object,
    size: tuple[int, int],
    request: GenerationRequest,
    plan: GenerationPlan,
    models: ModelManager,
    ctx: CallContext,
) -> list[Image.Image]:
    """img2img from `image` (a PIL image, a list of them, or latents) at `size` and request.strength."""
    common = {"image": image, "strength": request.strength}
    if not models.is_inpaint_model:
        return _call(models, Mode.IMG2IMG, request, plan, ctx, **common)
    full = Image.new("L", size, 255)
    return _call(
        models, Mode.INPAINT, request, plan, ctx, mask_image=full, width=size[0], height=size[1], **common
    )


def _inpaint(
    request: GenerationRequest, plan: GenerationPlan, models: ModelManager, ctx: CallContext
) -> list[Image.Image]:
    from studio.core import masks

    original, effective = _required(plan.image), _required(plan.mask)
    image = original if original.mode == "RGB" else original.convert("RGB")
    box, gen_size = plan.region, plan.generation_size
    region, region_mask = image.crop(box), effective.crop(box)
    opts = request.mask_options
    source = masks.prefill_masked(region, region_mask, opts.fill, request.seed, opts.infill)
    generated = _call(
        models,
        Mode.INPAINT,
        request,
        plan,
        ctx,
        image=source.resize(gen_size, Image.Resampling.LANCZOS),
        mask_image=region_mask.resize(gen_size, Image.Resampling.BILINEAR),
        width=gen_size[0],
        height=gen_size[1],
        strength=request.strength,
    )
    results = []
    for out in generated:
        canvas = image.copy()
        canvas.paste(out.resize(region.size, Image.Resampling.LANCZOS), box[:2])
        results.append(masks.composite(original, canvas, effective))
    return results


def _resident(models: ModelManager) -> Pipeline:
    if models.loaded is None:
        raise RuntimeError("no model is loaded")
    return models.loaded.pipe


def _required(image: Image.Image | None) -> Image.Image:
    if image is None:  # plan() always sets it for these modes
        raise RequestError("The plan has no input image for this mode.")
    return image
