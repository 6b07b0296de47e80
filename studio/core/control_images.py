"""Control images from pictures and canvas layers: the built-in preprocessors (no downloaded weights).

- canny: OpenCV's Canny edge detector with the unit's two thresholds (white edges on black).
- softedge: a soft-edge map in the spirit of HED/PiDiNet (which need weights): the gradient magnitude
  of a lightly blurred image at two scales, normalised, white on black.
- lineart: sd-webui-controlnet's weight-free "lineart_standard": dark lines on a light ground ->
  white lines on black (difference from a wide Gaussian blur, normalised by its median).
- invert: 255 - image (black line art on white -> white on black, what line/scribble models want).
- scribble: strokes -> white lines on black: a transparent paint layer's alpha, or the dark pixels of
  an opaque image, thickened a little as scribble models expect.
- tile: the picture blurred by a down/up resize (the tile model re-adds the detail).
Depth, normal and pose maps need networks with weights: the artist brings them as images
(preprocessor "none").

Pure numpy + OpenCV (imported inside the functions: importing this module stays cheap).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from studio.core.control import BROUGHT_MAPS, PREPROCESSORS, ControlUnit
from studio.core.plan import GenerationPlan
from studio.core.request import Mode

SCRIBBLE_THICKEN_PX = 2
TILE_DOWNSCALE = 4


def preprocess(unit: ControlUnit, size: tuple[int, int] | None = None) -> Image.Image:
    """The image the unit's model sees: its preprocessor applied, RGB, resized to `size` if given."""
    if unit.image is None:
        raise ValueError("The control has no image.")
    image = control_map(unit.image, unit.preprocessor, unit.low_threshold, unit.high_threshold)
    if size is not None and image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def control_map(image: Image.Image, preprocessor: str, low: int = 100, high: int = 200) -> Image.Image:
    """`image` through `preprocessor` (one of PREPROCESSORS), as an RGB image of the same size."""
    if preprocessor not in PREPROCESSORS:
        raise ValueError(f"Unknown preprocessor {preprocessor!r}; choose one of {', '.join(PREPROCESSORS)}.")
    if preprocessor == "scribble":
        return _rgb(scribble(image))
    rgb = np.asarray(_flatten(image), dtype=np.uint8)
    if preprocessor == "canny":
        return _rgb(canny(rgb, low, high))
    steps: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "none": lambda a: a,
        "softedge": soft_edges,
        "lineart": line_art,
        "invert": lambda a: 255 - a,
        "tile": tile_blur,
        "inpaint": lambda a: a,  # the engine marks the masked pixels (it knows the job's mask)
        **{name: (lambda a: a) for name in BROUGHT_MAPS},  # the artist's own map, as it is
    }
    return _rgb(steps[preprocessor](rgb))


def canny(rgb: np.ndarray, low: int, high: int) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.Canny(gray, low, high))


def soft_edges(rgb: np.ndarray) -> np.ndarray:
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    total = np.zeros_like(gray)
    for sigma in (1.0, 2.5):
        blurred = cv2.GaussianBlur(gray, (0, 0), sigma)
        gx = cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)
        total += np.sqrt(gx * gx + gy * gy)
    peak = float(np.percentile(total, 99.5)) or 1.0
    return np.clip(np.sqrt(np.clip(total / peak, 0, 1)) * 255.0, 0, 255).astype(np.uint8)


def line_art(rgb: np.ndarray) -> np.ndarray:
    """sd-webui-controlnet's lineart_standard, which needs no weights."""
    import cv2

    x = rgb.astype(np.float32)
    g = cv2.GaussianBlur(x, (0, 0), 6.0)
    intensity = np.min(g - x, axis=2).clip(0, 255)
    strong = intensity[intensity > 8]
    intensity /= max(16.0, float(np.median(strong)) if strong.size else 16.0)
    intensity *= 127.0
    return np.asarray(intensity.clip(0, 255), dtype=np.uint8)


def scribble(image: Image.Image) -> np.ndarray:
    """White strokes on black: a layer's alpha where it has transparency, else its dark pixels."""
    import cv2

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        lines = alpha > 32
    else:
        lines = np.asarray(image.convert("L")) < 128
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SCRIBBLE_THICKEN_PX + 1,) * 2)
    return np.asarray(cv2.dilate(lines.astype(np.uint8) * 255, kernel))


def tile_blur(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    small = cv2.resize(
        rgb, (max(1, w // TILE_DOWNSCALE), max(1, h // TILE_DOWNSCALE)), interpolation=cv2.INTER_AREA
    )
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB; transparent pixels on white (a paint layer's empty parts read as paper)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        ground = Image.new("RGB", rgba.size, (255, 255, 255))
        ground.paste(rgba, mask=rgba.getchannel("A"))
        return ground
    return image.convert("RGB")


def _rgb(array: np.ndarray) -> Image.Image:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), "RGB")


def control_for_plan(image: Image.Image, plan: GenerationPlan) -> Image.Image:
    """A control image given in input-image pixels, as the plan generates: for inpaint/outpaint placed
    in result pixels (outpaint margins black: nothing to follow there) and cropped to the plan's region;
    txt2img/img2img as given (the pipeline resizes it to the generation size)."""
    if plan.mode in (Mode.TXT2IMG, Mode.IMG2IMG):
        return image
    if image.size != plan.source_size:
        image = image.resize(plan.source_size, Image.Resampling.LANCZOS)
    if plan.result_size != plan.source_size or plan.origin != (0, 0):
        ground = Image.new(image.mode, plan.result_size)
        ground.paste(image, (-plan.origin[0], -plan.origin[1]))
        image = ground
    return image.crop(plan.region)
