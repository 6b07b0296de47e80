"""How a request runs: the one place that decides a job's geometry and effective mask.

`plan(request)` gives a `GenerationPlan`: which box of which image is regenerated, at what size the
pipeline generates, how large the results are, where they go back in the input image, and the
effective mask the results are composited through (inpaint: grown + feathered; outpaint: the new area
and an overlap band that bounds the change exactly, feather inside it). The engine executes the plan
and reports it in its `Started` event; the canvas places previews and results with that same plan, so
no geometry is worked out twice.

Coordinates: `region` is a box (left, top, right, bottom; right/bottom exclusive) in the result's
pixels. `origin` is where the result's top-left corner lies in the input image's pixels: (0, 0), or
(-left, -top) for an outpaint that grew the image to the left or top.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from studio.core.geometry import Box, Size, crop_box_for_mask, outpaint_canvas, scale_to_fit
from studio.core.masks import effective_mask
from studio.core.request import MAX_SIDE, MIN_SIDE, GenerationRequest, InpaintArea, Mode

Point = tuple[int, int]


@dataclass(frozen=True)
class GenerationPlan:
    """What a job generates and where it goes; see the module docstring for the coordinates."""

    mode: Mode
    total_steps: int  # denoising steps the job reports (strength shortens img2img / inpaint / outpaint)
    batch: int
    source_size: Size  # the input image (txt2img: the result size)
    result_size: Size  # every result image: the input (inpaint), the grown image (outpaint), w x h
    region: Box  # the box of the result that the pipeline regenerates
    # the pipeline's width x height (the region is scaled to it and back); with the hires fix the
    # first pass's size (control images are made for it), the second pass runs at `result_size`
    generation_size: Size
    origin: Point = (0, 0)  # the result's top-left corner in input-image pixels
    # The image the job works on, in result pixels: img2img the resized input, inpaint the input as
    # given (its mode kept), outpaint the grown image with its new area pre-filled. None for txt2img.
    image: Image.Image | None = field(default=None, repr=False)
    # Effective mask ("L", result pixels): what compositing uses; every result pixel where it is 0 is
    # the input pixel, unchanged. Inpaint: the mask grown then feathered; outpaint: the new area plus
    # the overlap band (feather ramps inside it, `geometry.outpaint_mask`). None for txt2img/img2img.
    mask: Image.Image | None = field(default=None, repr=False)

    @property
    def region_in_source(self) -> Box:
        """`region` in input-image pixels (negative where an outpaint reaches left or above)."""
        (ox, oy), (left, top, right, bottom) = self.origin, self.region
        return left + ox, top + oy, right + ox, bottom + oy

    @property
    def margins(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) pixels the result adds around the input (outpaint; else 0s)."""
        if self.mode is not Mode.OUTPAINT:
            return 0, 0, 0, 0
        left, top = -self.origin[0], -self.origin[1]
        (rw, rh), (sw, sh) = self.result_size, self.source_size
        return left, top, rw - sw - left, rh - sh - top


def plan(request: GenerationRequest) -> GenerationPlan:
    """The plan for a request that passed `studio.core.request.check_request`.

    Raises ValueError when the request cannot be planned (the mask is empty once shrunk, say).
    inpaint/outpaint generate at about the request's area (width x height) with the region's aspect;
    "only masked" crops to the effective mask's box plus padding, squared where the image allows.
    Outpaint pre-fills the new area with `mask_options.infill`; its `overlap` px band is the whole
    change to the original (feather included, `mask_options.grow` does not apply).
    """
    steps, batch = request.denoising_steps, request.batch
    size = (request.width, request.height)
    if request.mode is Mode.TXT2IMG:
        # hires fix: the first pass at width x height, the result `hires.scale` times larger
        final = request.hires.size(*size) if request.uses_hires else size
        return GenerationPlan(Mode.TXT2IMG, steps, batch, final, final, (0, 0, *final), size)
    init = request.init_image
    if init is None:
        raise ValueError(f"{request.mode.value} needs an input image; none was given.")
    if request.uses_upscale:
        return upscale_plan(request, init)
    if request.mode is Mode.IMG2IMG:
        image = init.convert("RGB")
        if image.size != size:
            image = image.resize(size, Image.Resampling.LANCZOS)
        full = (0, 0, *size)
        return GenerationPlan(Mode.IMG2IMG, steps, batch, init.size, size, full, size, image=image)
    opts = request.mask_options
    if request.mode is Mode.OUTPAINT:  # the overlap bounds the change exactly: grow does not apply
        image, mask, box = outpaint_canvas(
            init.convert("RGB"), request.outpaint, opts.infill, request.seed, opts.feather
        )
        origin = (-box[0], -box[1])
    elif request.mask is None:
        raise ValueError("Inpainting needs a mask: paint the area to regenerate.")
    else:
        image, origin = init, (0, 0)
        mask = effective_mask(request.mask, opts.grow, opts.feather)
    if mask.getbbox() is None:
        raise ValueError("The mask is empty after shrinking it: paint a larger area or reduce the shrink.")
    if opts.area is InpaintArea.ONLY_MASKED:
        region = crop_box_for_mask(mask, opts.padding, image.size, target_aspect=1.0)
    else:
        region = (0, 0, *image.size)
    generation = generation_size(
        (region[2] - region[0], region[3] - region[1]), request.width * request.height
    )
    return GenerationPlan(
        request.mode, steps, batch, init.size, image.size, region, generation, origin, image, mask
    )


def upscale_plan(request: GenerationRequest, init: Image.Image) -> GenerationPlan:
    """ "Upscale…": the init image as given (alpha kept) to `upscale.size`; the steps are the refine's
    per tile times the tiles (0 without refine)."""
    from studio.core.tiles import refine_tiles

    options = request.upscale
    size = options.size(*init.size)
    steps = request.denoising_steps
    if steps:
        steps *= len(refine_tiles(size, options.tile, options.overlap))
    return GenerationPlan(Mode.IMG2IMG, steps, 1, init.size, size, (0, 0, *size), size, image=init)


def generation_size(region: Size, area: int) -> Size:
    """`region` scaled (aspect kept, sides multiples of 8) to about `area` pixels, within the limits."""
    w, h = scale_to_fit(region, area)
    return max(MIN_SIDE, min(MAX_SIDE, w)), max(MIN_SIDE, min(MAX_SIDE, h))
