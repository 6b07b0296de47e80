"""Several images of a batch as one grid image (live previews and results of a batch)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

GAP = 2  # pixels between the cells (the background shows through)
BACKGROUND = 40
MIN_CELL = 64  # latent-size previews (16x16 for studio-mini) are enlarged so the gap stays thin


def grid(images: Sequence[npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    """HxWx3 uint8 images (same size) tiled into a near-square grid, row by row; one image as is."""
    if len(images) == 1:
        return images[0]
    if not images:
        raise ValueError("no images to tile")
    scale = max(1, MIN_CELL // max(images[0].shape[:2]))
    if scale > 1:
        images = [np.repeat(np.repeat(image, scale, axis=0), scale, axis=1) for image in images]
    h, w = images[0].shape[:2]
    columns = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / columns)
    out = np.full((rows * h + (rows - 1) * GAP, columns * w + (columns - 1) * GAP, 3), BACKGROUND, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        y, x = r * (h + GAP), c * (w + GAP)
        out[y : y + h, x : x + w] = image[:h, :w, :3]
    return out
