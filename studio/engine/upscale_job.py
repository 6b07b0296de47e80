""" "Upscale…" as a job (`GenerationRequest.upscale`): the plan's image to its result size with the
chosen upscaler (`engine.upscale`), then, with a refine strength, a tiled img2img refine
(`engine.tiled`). The alpha channel of a layer is resized and kept; the image given is never changed.

Progress: without refine, one `Step` per upscaler tile (previews are the steps' own business: none);
with refine, the denoising steps of every tile, counted on from tile to tile (`CallContext.step_offset`).
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from studio.core.plan import GenerationPlan
from studio.core.request import GenerationRequest, PreviewKind
from studio.engine.runner import CallContext, JobCancelled
from studio.engine.tiled import refine_tiled
from studio.engine.upscale import UpscaleCancelled, upscale_images

# img2img(tile image, index, count) -> refined tile (given by engine.pipelines when refining)
TileRefine = Callable[[Image.Image, int, int], Image.Image]


def run_upscale(
    request: GenerationRequest,
    plan: GenerationPlan,
    ctx: CallContext,
    device: str,
    refine: TileRefine | None = None,
) -> list[Image.Image]:
    """The upscaled (and refined, when `refine` is given) image, one in a list."""
    source = plan.image
    if source is None:
        raise ValueError("Upscaling needs an image; none was given.")
    options = request.upscale
    upscaled = _upscaled(source, request, plan, ctx, device, report_tiles=refine is None)
    if refine is None:
        return [upscaled]
    refined = refine_tiled(upscaled.convert("RGB"), options.tile, options.overlap, refine)
    if upscaled.mode == "RGBA":
        refined = refined.convert("RGBA")
        refined.putalpha(upscaled.getchannel("A"))
    return [refined]


def upscale_parameters(request: GenerationRequest, size: tuple[int, int]) -> dict[str, object]:
    """The result's parameters when no model ran (no refine): the request's, with the upscale fields."""
    from studio.core.metadata import build_parameters

    return build_parameters(request, request.seed, "", "", size)


def _upscaled(
    source: Image.Image,
    request: GenerationRequest,
    plan: GenerationPlan,
    ctx: CallContext,
    device: str,
    *,
    report_tiles: bool,
) -> Image.Image:
    options = request.upscale

    def progress(done: int, count: int) -> None:
        if report_tiles:
            ctx.last_step = done
            ctx.on_step(done, count, [], PreviewKind.NONE)

    try:
        image = upscale_images(
            [source],
            options.upscaler,
            plan.result_size,
            request.upscaler_dirs,
            device=device,
            progress=progress,
            cancelled=ctx.cancel.is_set,
        )[0]
    except UpscaleCancelled as exc:
        raise JobCancelled(exc.tiles_done if report_tiles else 0) from exc
    if report_tiles and ctx.last_step == 0:  # a pixel filter: one step for the whole image
        ctx.on_step(1, 1, [], PreviewKind.NONE)
    if ctx.cancel.is_set():
        raise JobCancelled(ctx.last_step)
    return image
