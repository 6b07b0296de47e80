"""Tiled refine: img2img over a large image one tile at a time, blended so the tiles leave no seam.

The image is padded to multiples of 8 (edge pixels repeated), covered with `core.tiles.tile_grid`
tiles sharing `overlap` px, each tile refined by the `refine` callable the caller gives (an img2img
call at the tile's size: `engine.pipelines` passes one with the request's prompts, steps and seed), and
the results are blended with linear ramps across the overlaps (`core.tiles.TileBlender`), then cropped
back. The VAE runs tiled meanwhile (`enable_tiling`), as it would for a large image in one call.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from studio.core.tiles import TileBlender, padded_to_8, refine_tiles

if TYPE_CHECKING:
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

# refine(tile image, tile index, tile count) -> the refined tile (the same size)
Refine = Callable[[Image.Image, int, int], Image.Image]


def refine_tiled(
    image: Image.Image, tile: int, overlap: int, refine: Refine, *, blend: bool = True
) -> Image.Image:
    """`image` (RGB) refined tile by tile; see the module docstring. `blend=False` pastes the tiles with
    hard edges (only to show what the blending is for)."""
    padded = _pad_to_multiple_of_8(image.convert("RGB"))
    boxes = refine_tiles(image.size, tile, overlap)
    blender = TileBlender(padded.size, 3, boxes, blend=blend)
    for index, box in enumerate(boxes):
        refined = refine(padded.crop(box), index, len(boxes))
        if refined.size != (box[2] - box[0], box[3] - box[1]):
            refined = refined.resize((box[2] - box[0], box[3] - box[1]), Image.Resampling.LANCZOS)
        blender.add(box, np.asarray(refined.convert("RGB"), dtype=np.float32) / 255.0)
    return Image.fromarray(blender.result_8bit(), "RGB").crop((0, 0, *image.size))


@contextlib.contextmanager
def vae_tiling(pipe: Pipeline) -> Iterator[None]:
    """The pipeline's VAE tiled during the block (as it was afterwards)."""
    vae = getattr(pipe, "vae", None)
    was_tiled = bool(getattr(vae, "use_tiling", False))
    if vae is not None and not was_tiled and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    try:
        yield
    finally:
        if vae is not None and not was_tiled and hasattr(vae, "disable_tiling"):
            vae.disable_tiling()


def _pad_to_multiple_of_8(image: Image.Image) -> Image.Image:
    width, height = padded_to_8(image.size)
    if (width, height) == image.size:
        return image
    pixels = np.asarray(image)
    padded = np.pad(pixels, ((0, height - image.height), (0, width - image.width), (0, 0)), mode="edge")
    return Image.fromarray(padded, "RGB")
