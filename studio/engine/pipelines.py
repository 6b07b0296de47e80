"""A `GenerationRequest` -> the pipeline call(s) for its mode -> PIL images.

- txt2img / img2img: the family's pipeline (an inpainting model runs them through its inpaint
  pipeline with a full mask, as A1111 does).
- inpaint: effective mask (grow + feather, `studio.core.masks`), optional crop to the mask's box
  ("only masked", generated at the model's native size), masked-content pre-fill, then composite,
  so every pixel outside the effective mask is byte-identical to the input.
- outpaint: `studio.core.geometry.outpaint_canvas` -> the inpaint path on the extended canvas.

Batch image i uses seed + i, with its own CPU generator (same latents on every device).
"""

from __future__ import annotations

import logging
from typing import Any

from studio.core.request import GenerationRequest, InpaintArea, Mode
from studio.engine.models import ModelManager
from studio.engine.runner import CallContext, run_pipeline, to_pil
from studio.engine.schedulers import expected_steps

log = logging.getLogger(__name__)


class RequestError(ValueError):
    """The request cannot be run as given (shown to the artist as an input problem)."""


def total_steps(request: GenerationRequest) -> int:
    """Denoising steps the job will report (strength shortens img2img / inpaint / outpaint)."""
    if request.mode is Mode.TXT2IMG:
        return request.steps
    return expected_steps(request.steps, request.strength)


def check_runnable(request: GenerationRequest) -> None:
    """Problems `GenerationRequest.validate` cannot see; raises RequestError."""
    if request.mode is not Mode.TXT2IMG and total_steps(request) < 1:
        raise RequestError(
            f"With {request.steps} steps and strength {request.strength:g} no denoising step would run: "
            "raise the steps or the strength."
        )


def generate(request: GenerationRequest, models: ModelManager, ctx: CallContext) -> list[Any]:
    """Run ``request`` on the resident model; returns one PIL image per batch seed."""
    check_runnable(request)
    if request.mode is Mode.TXT2IMG:
        return _txt2img(request, models, ctx)
    if request.mode is Mode.IMG2IMG:
        return _img2img(request, models, ctx)
    if request.mode is Mode.INPAINT:
        return _inpaint(request, models, ctx)
    return _outpaint(request, models, ctx)


def _generators(seeds: list[int]) -> list[Any]:
    import torch

    return [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]


def _common(request: GenerationRequest) -> dict[str, Any]:
    seeds = request.seeds()
    return {
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt or None,
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance,
        "num_images_per_prompt": len(seeds),
        "generator": _generators(seeds),
    }


def _call(models: ModelManager, mode: Mode, request: GenerationRequest, ctx: CallContext, **kw: Any) -> list:
    pipe = models.pipeline_for(mode, request.scheduler, request.seeds())
    images = run_pipeline(pipe, {**_common(request), **kw}, ctx)
    return to_pil(images)


def _txt2img(request: GenerationRequest, models: ModelManager, ctx: CallContext) -> list[Any]:
    size = {"width": request.width, "height": request.height}
    if not models.is_inpaint_model:
        return _call(models, Mode.TXT2IMG, request, ctx, **size)
    from PIL import Image

    blank = Image.new("RGB", (request.width, request.height), (127, 127, 127))
    full = Image.new("L", blank.size, 255)
    return _call(models, Mode.INPAINT, request, ctx, image=blank, mask_image=full, strength=1.0, **size)


def _img2img(request: GenerationRequest, models: ModelManager, ctx: CallContext) -> list[Any]:
    from PIL import Image

    size = (request.width, request.height)
    image = request.init_image.convert("RGB")
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    common = {"image": image, "strength": request.strength}
    if not models.is_inpaint_model:
        return _call(models, Mode.IMG2IMG, request, ctx, **common)
    full = Image.new("L", size, 255)
    return _call(models, Mode.INPAINT, request, ctx, mask_image=full, width=size[0], height=size[1], **common)


def _inpaint(request: GenerationRequest, models: ModelManager, ctx: CallContext) -> list[Any]:
    from PIL import Image

    from studio.core import geometry, masks

    opts = request.mask_options
    original = request.init_image
    image = original.convert("RGB")
    effective = masks.effective_mask(request.mask, opts.grow, opts.feather)
    if effective.getbbox() is None:
        raise RequestError("The mask is empty after shrinking it: paint a larger area or reduce the shrink.")
    if opts.area is InpaintArea.ONLY_MASKED:
        box = geometry.crop_box_for_mask(effective, opts.padding, image.size, target_aspect=1.0)
        native = models.native_size()
        gen_size = geometry.scale_to_fit((box[2] - box[0], box[3] - box[1]), native * native)
    else:
        box = (0, 0, image.width, image.height)
        gen_size = geometry.scale_to_fit(image.size, request.width * request.height)
    region, region_mask = image.crop(box), effective.crop(box)
    source = masks.prefill_masked(region, region_mask, opts.fill, request.seed)
    generated = _call(
        models,
        Mode.INPAINT,
        request,
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


def _outpaint(request: GenerationRequest, models: ModelManager, ctx: CallContext) -> list[Any]:
    from studio.core import geometry

    extended, mask, _box = geometry.outpaint_canvas(
        request.init_image.convert("RGB"), request.outpaint, seed=request.seed
    )
    return _inpaint(request.replace(mode=Mode.INPAINT, init_image=extended, mask=mask), models, ctx)
