"""The pixels around a remote job, through Studio's own plan (`studio.core.plan`), exactly as the
local engine treats them (`studio.engine.pipelines`):

- `inputs`: img2img sends the plan's image; inpaint and outpaint send the plan's region of the plan's
  image, pre-filled under the mask (masked content), at the plan's generation size, with the region
  of the effective mask at that size.
- `composite`: a result is scaled back to the region, pasted into the plan's image and composited
  through the effective mask, so every pixel where that mask is 0 is the input's, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from studio.core import masks
from studio.core.plan import GenerationPlan
from studio.core.request import GenerationRequest, Mode


@dataclass(frozen=True)
class Inputs:
    image: Image.Image | None = None  # what the sampler starts from (None: txt2img)
    mask: Image.Image | None = None  # "L", white = repaint (inpaint / outpaint)


def inputs(request: GenerationRequest, plan: GenerationPlan) -> Inputs:
    if plan.mode is Mode.TXT2IMG:
        return Inputs()
    image = _required(plan.image)
    if plan.mode is Mode.IMG2IMG:
        return Inputs(image.convert("RGB"))
    effective = _required(plan.mask)
    box, size = plan.region, plan.generation_size
    region, region_mask = image.convert("RGB").crop(box), effective.crop(box)
    opts = request.mask_options
    source = masks.prefill_masked(region, region_mask, opts.fill, request.seed, opts.infill)
    return Inputs(
        source.resize(size, Image.Resampling.LANCZOS), region_mask.resize(size, Image.Resampling.BILINEAR)
    )


def composite(plan: GenerationPlan, generated: Image.Image) -> Image.Image:
    """One result of the server as the job's result image (`plan.result_size`)."""
    if plan.mode is Mode.TXT2IMG:
        return generated
    if plan.mode is Mode.IMG2IMG:
        return generated if generated.size == plan.result_size else generated.resize(plan.result_size)
    original, effective = _required(plan.image), _required(plan.mask)
    image = original if original.mode == "RGB" else original.convert("RGB")
    box = plan.region
    canvas = image.copy()
    canvas.paste(generated.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS), box[:2])
    return masks.composite(original, canvas, effective)


def _required(image: Image.Image | None) -> Image.Image:
    if image is None:  # plan() always sets it for these modes
        raise ValueError("The plan has no input image for this mode.")
    return image
