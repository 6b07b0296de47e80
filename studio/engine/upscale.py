"""Model upscalers (ESRGAN, Real-ESRGAN, SwinIR, HAT, SPAN, ... : the families spandrel detects).

- `load_upscaler(path)` reads a `.safetensors` (header checked first) or a `.pth`/`.pt`/`.ckpt` pickle
  (``torch.load(weights_only=True)`` only: a pickle that needs code is refused) and lets spandrel
  build the architecture from the tensor shapes. Anything that is not a super-resolution model ends as
  a `ModelLoadError` naming the file.
- `upscale(image, upscaler, size, ...)` runs the model tile by tile (`core.tiles`: tile size + overlap,
  feathered blending, so a large image needs the memory of one tile), then resizes the model's output
  to the exact `size` with Lanczos (any factor: a 4x model gives 2x or 3x too).

spandrel is installed without its declared torchvision dependency (scripts/install.sh; the PyPI
torchvision wheels need a CUDA torch). Only two of its architectures import torchvision (LaMa, an
inpainting model, and RestoreFormer, a face restorer); `import spandrel` imports them all, so
`_import_spandrel` lends those imports a stand-in for the length of the import, which raises if either
model were ever run (neither is an upscaler, and `load_upscaler` refuses both).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from studio.core.request import PIXEL_UPSCALERS, is_model_upscaler
from studio.core.tiles import TileBlender, resized_box, tile_grid
from studio.engine.loading.errors import ModelLoadError, short

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

UPSCALER_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 32
Progress = Callable[[int, int], None]  # (tiles done, tiles in all)
_PIL_FILTERS = {"Lanczos": Image.Resampling.LANCZOS, "Nearest": Image.Resampling.NEAREST}


class UpscalerNotFound(ValueError):
    """No upscaler file of that name (an input problem: the artist chooses another)."""


@dataclass
class Upscaler:
    """A loaded upscaling model: spandrel's descriptor and what Studio reads from it."""

    name: str  # the file's stem (A1111's "Hires upscaler: 4x-UltraSharp")
    architecture: str
    scale: int
    descriptor: Any  # spandrel.ImageModelDescriptor

    @property
    def multiple_of(self) -> int:
        return int(self.descriptor.size_requirements.multiple_of)


def load_upscaler(path: str | Path, device: str = "cpu") -> Upscaler:
    """The upscaler in `path`; `ModelLoadError` with a message an artist can act on otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"The upscaler {path} was not found.")
    if path.suffix.lower() not in UPSCALER_SUFFIXES:
        raise ModelLoadError(
            f"{path.name} is not an upscaler file: Studio reads {', '.join(UPSCALER_SUFFIXES)} upscalers."
        )
    state_dict = _read_state_dict(path)
    spandrel = _import_spandrel()
    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state_dict))
    except spandrel.UnsupportedModelError as exc:
        raise ModelLoadError(
            f"{path.name} is not an upscaling model Studio knows (ESRGAN, Real-ESRGAN, SwinIR, HAT, "
            "SPAN and the other families spandrel reads)."
        ) from exc
    except Exception as exc:  # shapes that match a family but not its layers
        raise ModelLoadError(f"{path.name} could not be read as an upscaler ({short(exc)}).") from exc
    purpose = getattr(descriptor, "purpose", "")
    if purpose not in ("SR", "Restoration") or int(getattr(descriptor, "scale", 0)) < 1:
        raise ModelLoadError(
            f"{path.name} is a {descriptor.architecture.name} model ({purpose or 'not an image model'}), "
            "not an upscaler."
        )
    descriptor.to(device).eval()
    log.info("Upscaler %s: %s x%d", path.name, descriptor.architecture.name, descriptor.scale)
    return Upscaler(path.stem, descriptor.architecture.name, int(descriptor.scale), descriptor)


def find_upscaler(name: str, dirs: tuple[str, ...]) -> Path:
    """The upscaler file `name` names: a path, or a file stem found in `dirs` (the first folder wins)."""
    candidate = Path(name).expanduser()
    if candidate.suffix.lower() in UPSCALER_SUFFIXES and candidate.is_file():
        return candidate
    for found in find_upscaler_files(dirs):
        if found.stem == name or found.name == name:
            return found
    where = ", ".join(dirs) or "no upscaler folder"
    raise UpscalerNotFound(
        f"The upscaler {name!r} was not found (looked in {where}): put the file in an upscaler folder, "
        "or choose another upscaler."
    )


def find_upscaler_files(dirs: tuple[str, ...] | list[str]) -> list[Path]:
    """Upscaler files directly in `dirs`, by name, the first of a stem winning."""
    from studio.core.user_files import find_upscalers

    return find_upscalers(dirs)


def upscale(
    image: Image.Image,
    upscaler: Upscaler,
    size: tuple[int, int],
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Image.Image:
    """`image` through the model tile by tile (blended), then Lanczos to exactly `size` (width, height).
    An alpha channel is resized with Lanczos alongside."""
    rgb = image.convert("RGB")
    result = _run_tiled(rgb, upscaler, size, tile, overlap, progress, cancelled)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        alpha = image.convert("RGBA").getchannel("A").resize(size, Image.Resampling.LANCZOS)
        result = result.convert("RGBA")
        result.putalpha(alpha)
    return result


def upscale_images(
    images: list[Image.Image],
    upscaler: str,
    size: tuple[int, int],
    dirs: tuple[str, ...] = (),
    *,
    device: str = "cpu",
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[Image.Image]:
    """`images` resized to `size` with `upscaler`: a built-in pixel filter (`PIXEL_UPSCALERS`) or a
    model upscaler (a name found in `dirs`, or a path), loaded once for all of them."""
    if upscaler in PIXEL_UPSCALERS:
        return [image.resize(size, _PIL_FILTERS[upscaler]) for image in images]
    if not is_model_upscaler(upscaler):
        raise ValueError(f"Unknown pixel upscaler {upscaler!r}")
    model = load_upscaler(find_upscaler(upscaler, dirs), device)
    return [
        upscale(image, model, size, tile=tile, overlap=overlap, progress=progress, cancelled=cancelled)
        for image in images
    ]


def _run_tiled(
    image: Image.Image,
    upscaler: Upscaler,
    size: tuple[int, int],
    tile: int,
    overlap: int,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> Image.Image:
    import torch

    scale = upscaler.scale
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    boxes = tile_grid(image.size, tile, overlap)
    # Tiles are blended at the size asked for, each resized from the model's scale first: a 2x job
    # through a 4x model never holds the 4x image (16384 px buffers for a 4096 px input).
    out_boxes = [resized_box(box, image.size, size) for box in boxes]
    blender = TileBlender(size, 3, out_boxes)
    descriptor = upscaler.descriptor
    for index, (box, out_box) in enumerate(zip(boxes, out_boxes, strict=True)):
        if cancelled is not None and cancelled():
            raise UpscaleCancelled(index)
        left, top, right, bottom = box
        with torch.inference_mode():
            tensor = _to_tensor(pixels[top:bottom, left:right], descriptor)
            result = _padded_call(descriptor, tensor, upscaler.multiple_of)
        tile_out = result[0].permute(1, 2, 0).float().clamp(0, 1).cpu().numpy()
        tile_out = tile_out[: (bottom - top) * scale, : (right - left) * scale]
        blender.add(out_box, _resized(tile_out, (out_box[2] - out_box[0], out_box[3] - out_box[1])))
        if progress is not None:
            progress(index + 1, len(boxes))
    return Image.fromarray(blender.result_8bit(), "RGB")


def _resized(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, c) float pixels at `size` (width, height), Lanczos; unchanged when already that size."""
    if pixels.shape[1::-1] == size:
        return pixels
    import cv2

    return np.clip(cv2.resize(pixels, size, interpolation=cv2.INTER_LANCZOS4), 0.0, 1.0)


class UpscaleCancelled(Exception):
    """The artist cancelled; `tiles_done` tiles were finished."""

    def __init__(self, tiles_done: int) -> None:
        super().__init__(f"cancelled after {tiles_done} tiles")
        self.tiles_done = tiles_done


def _to_tensor(pixels: np.ndarray, descriptor: Any) -> torch.Tensor:
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).unsqueeze(0)
    return tensor.to(device=descriptor.device, dtype=descriptor.dtype)


def _padded_call(descriptor: Any, tensor: torch.Tensor, multiple_of: int) -> torch.Tensor:
    """The model on `tensor`, reflect-padded to the sizes the architecture needs (output cropped)."""
    import torch.nn.functional as F  # noqa: N812 - torch's own convention

    height, width = tensor.shape[-2:]
    need = max(multiple_of, 1)
    minimum = int(descriptor.size_requirements.minimum)
    pad_h = max(-(-height // need) * need, minimum) - height
    pad_w = max(-(-width // need) * need, minimum) - width
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        tensor = F.pad(tensor, (0, pad_w, 0, pad_h), mode=mode)
    out: torch.Tensor = descriptor(tensor)
    scale = int(descriptor.scale)
    return out[..., : height * scale, : width * scale]


def _read_state_dict(path: Path) -> dict[str, Any]:
    from studio.engine.loading.checkpoint import load_tensors, read_header

    if path.suffix.lower() == ".safetensors":
        return dict(load_tensors(read_header(path)))  # header checked before reading the tensors
    return _read_pickle(path)


def _read_pickle(path: Path) -> dict[str, Any]:
    import pickle

    import torch

    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path.name} is empty (0 bytes): the download or copy did not finish.")
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).lower()
        if "weights only" in text and ("unsupported global" in text or "unsupported class" in text):
            raise ModelLoadError(
                f"{path.name} contains pickled Python code, not just weights, and Studio refuses to run it "
                "(such files can carry malware). Use the .safetensors version of this upscaler."
            ) from exc
        raise ModelLoadError(f"{path.name} could not be read: it is damaged or not an upscaler.") from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path.name} could not be read ({short(exc)}): it is damaged or not an upscaler."
        ) from exc
    if not isinstance(data, dict) or not data:
        raise ModelLoadError(f"{path.name} does not contain model weights; it is not an upscaler.")
    return data


def _import_spandrel() -> Any:
    """spandrel, imported with a stand-in for torchvision when torchvision is not installed."""
    if "spandrel" in sys.modules:
        return sys.modules["spandrel"]
    if importlib.util.find_spec("spandrel") is None:
        raise ModelLoadError(
            "Model upscalers need the spandrel package, which is not installed: run scripts/install.sh "
            "again (or `pip install --no-deps spandrel einops`)."
        )
    with _torchvision_stand_in():
        import spandrel
    return spandrel


@contextlib.contextmanager
def _torchvision_stand_in() -> Iterator[None]:
    """Without torchvision, `torchvision.transforms.functional` is a stand-in during the block (its
    functions raise); afterwards the stand-in leaves `sys.modules`, so other libraries still see that
    torchvision is not installed."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return

    def unavailable(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("This model needs torchvision, which Studio does not install.")

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = types.SimpleNamespace(BILINEAR="bilinear", NEAREST="nearest")  # type: ignore[attr-defined]
    functional.rotate = unavailable  # type: ignore[attr-defined]
    functional.normalize = unavailable  # type: ignore[attr-defined]
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional  # type: ignore[attr-defined]
    package = types.ModuleType("torchvision")
    package.transforms = transforms  # type: ignore[attr-defined]
    names = {
        "torchvision": package,
        "torchvision.transforms": transforms,
        "torchvision.transforms.functional": functional,
    }
    sys.modules.update(names)
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)
