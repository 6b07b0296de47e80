"""The one object that crosses from the UI (or CLI) to the engine: a frozen, validated request."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from studio.core.control import ControlUnit, check_controls
from studio.core.infill import DEFAULT_INFILL, check_infill_method
from studio.core.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES

if TYPE_CHECKING:
    from PIL import Image

MAX_SEED = 2**32 - 1
MIN_SIDE, MAX_SIDE = 16, 4096
MAX_STEPS = 150
MAX_GUIDANCE = 30.0
MAX_BATCH = 16
MAX_OUTPAINT = 2048
MAX_LORA_WEIGHT = 10.0
MAX_CLIP_SKIP = 12
MAX_HIRES_SCALE = 4.0
# Hires fix upscalers, named as A1111 names them. "Latent…" resize the first pass's latents
# (torch interpolate: mode, antialias); the others decode, resize the pixels, and encode again.
LATENT_UPSCALERS: dict[str, tuple[str, bool]] = {
    "Latent": ("bilinear", False),
    "Latent (antialiased)": ("bilinear", True),
    "Latent (bicubic)": ("bicubic", False),
    "Latent (bicubic antialiased)": ("bicubic", True),
    "Latent (nearest)": ("nearest", False),
    "Latent (nearest-exact)": ("nearest-exact", False),
}
PIXEL_UPSCALERS = ("Lanczos", "Nearest")
# Any other name is a model upscaler (ESRGAN, ...): a file stem found in the request's `upscaler_dirs`
# (A1111's "Hires upscaler: 4x-UltraSharp"), or a path to the file; the engine loads it (engine.upscale).
HIRES_UPSCALERS = (*LATENT_UPSCALERS, *PIXEL_UPSCALERS)
MAX_UPSCALE = 8.0
MAX_UPSCALE_SIDE = 8192  # "Upscale…" works tile by tile, so it may exceed MAX_SIDE
MIN_TILE, MAX_TILE = 64, 2048


def is_model_upscaler(name: str) -> bool:
    """Whether `name` names a model upscaler (a file) rather than a built-in latent / pixel resize."""
    return isinstance(name, str) and bool(name.strip()) and name not in HIRES_UPSCALERS


class Mode(str, Enum):
    TXT2IMG = "txt2img"
    IMG2IMG = "img2img"
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"


class PreviewKind(str, Enum):
    NONE = "none"
    X0 = "x0"  # predicted clean image: shows the picture early
    LATENT = "latent"  # the noisy latent x_t as it is


class InpaintArea(str, Enum):
    WHOLE_IMAGE = "whole"
    ONLY_MASKED = "masked"  # crop to the mask's box + padding, generate at width x height's area, paste back


class MaskedContent(str, Enum):
    ORIGINAL = "original"
    BLUR = "blur"
    NOISE = "noise"
    INFILL = "infill"  # filled from the surroundings with MaskOptions.infill (core.infill)


@dataclass(frozen=True)
class MaskOptions:
    grow: int = 0  # pixels to dilate (negative shrinks)
    feather: int = 4  # blur radius in pixels of the compositing edge
    area: InpaintArea = InpaintArea.WHOLE_IMAGE
    padding: int = 32  # context around the mask box for ONLY_MASKED
    fill: MaskedContent = MaskedContent.ORIGINAL
    # How new or masked areas are pre-filled from their surroundings (one of core.infill's
    # INFILL_METHODS): an outpaint's new area, and inpainting with fill=INFILL.
    infill: str = DEFAULT_INFILL


@dataclass(frozen=True)
class OutpaintOptions:
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0
    # Original pixels regenerated along each extended side for a seamless join: the original is
    # changed at most `overlap` px deep, MaskOptions.feather included (0: the original is untouched).
    overlap: int = 16

    @property
    def any(self) -> bool:
        return any((self.left, self.right, self.top, self.bottom))


@dataclass(frozen=True)
class LoraRef:
    """A LoRA / LyCORIS applied to one job: a name (file stem) found in the request's `lora_dirs`, or a
    path to a `.safetensors` file; `weight` scales it (A1111's `<lora:name:weight>`)."""

    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class HiresOptions:
    """Hires fix (txt2img only; ignored in other modes): generate at the request's width x height,
    upscale by `scale` with `upscaler`, then denoise again at `denoise` strength for `steps`
    (0: the request's steps; diffusers runs int(steps x denoise) of them, as img2img does)."""

    enabled: bool = False
    scale: float = 2.0
    upscaler: str = "Latent"
    steps: int = 0
    denoise: float = 0.5

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The final size: width x height times `scale`, sides rounded to multiples of 8 (a scale that is
        not a finite number, which the checks refuse, gives width x height)."""
        if (
            isinstance(self.scale, bool)
            or not isinstance(self.scale, (int, float))
            or not math.isfinite(self.scale)
        ):
            return width, height
        return (
            round_to_multiple_of_8(round(width * self.scale)),
            round_to_multiple_of_8(round(height * self.scale)),
        )


@dataclass(frozen=True)
class UpscaleOptions:
    """ "Upscale…" (img2img only, when `enabled`): the init image made `scale` times larger with
    `upscaler` (Lanczos, Nearest, or a model upscaler's name or path), at any size (the model's own
    scale, then Lanczos to the exact size); then, with `refine` > 0, img2img at that strength tile by
    tile (`tile` px tiles sharing `overlap` px, blended), with the request's prompts, steps and seed.
    The request's width / height are not used."""

    enabled: bool = False
    scale: float = 2.0
    upscaler: str = "Lanczos"
    refine: float = 0.0
    tile: int = 512
    overlap: int = 64

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The upscaled size of a width x height image (each side at least 1 px)."""
        scale = self.scale if isinstance(self.scale, (int, float)) and math.isfinite(self.scale) else 1.0
        return max(1, round(width * scale)), max(1, round(height * scale))


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a job needs. The engine reads nothing else: no widgets, no global settings."""

    mode: Mode = Mode.TXT2IMG
    prompt: str = ""
    negative_prompt: str = ""
    model: str = ""  # "" = the built-in model; else a folder, a file or a cached Hub id
    steps: int = 20
    guidance: float = 7.0
    scheduler: str = DEFAULT_SCHEDULER
    seed: int = 0
    width: int = 512
    height: int = 512
    batch: int = 1
    strength: float = 0.75  # img2img / inpaint denoising strength
    init_image: Image.Image | None = field(default=None, compare=False, repr=False)
    mask: Image.Image | None = field(default=None, compare=False, repr=False)  # white = repaint
    mask_options: MaskOptions = field(default_factory=MaskOptions)
    outpaint: OutpaintOptions = field(default_factory=OutpaintOptions)
    preview: PreviewKind = PreviewKind.X0
    preview_interval: int = 1  # a preview every N steps (ignored when preview is NONE)
    styles: str = ""  # names of the styles already merged into the prompts ("a, b"), for the metadata
    # The artist's own files (issue 13). `<lora:name:w>` in the prompt adds to `loras`; embeddings are
    # used by name in the prompt. The folders travel with the request: the engine reads no settings.
    loras: tuple[LoraRef, ...] = ()
    lora_dirs: tuple[str, ...] = ()
    embedding_dirs: tuple[str, ...] = ()
    clip_skip: int = 1  # A1111 semantics: 1 = the text encoder's last layer, 2 = the one before, ...
    vae: str = ""  # "" = the model's own VAE; else a single-file .safetensors or a diffusers VAE folder
    # Control units (issue 14): ControlNet / T2I-Adapter / IP-Adapter, each with its image
    controls: tuple[ControlUnit, ...] = ()
    ip_image_encoder: str = ""  # CLIP vision folder for IP-Adapters ("" = beside the adapter file)
    hires: HiresOptions = field(default_factory=HiresOptions)  # two-pass txt2img (issue 15)
    upscale: UpscaleOptions = field(default_factory=UpscaleOptions)  # "Upscale…" (img2img, issue 15)
    upscaler_dirs: tuple[str, ...] = ()  # where model upscalers are found by name (hires fix, upscale)

    def replace(self, **changes: Any) -> GenerationRequest:
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise ValueError with a message a person can act on; return None if the request is usable."""
        checks = (
            _check_numbers,
            _check_size,
            _check_scheduler,
            _check_infill,
            _check_images,
            _check_own_files,
            _check_controls,
            _check_hires,
            _check_upscale,
        )
        for check in checks:
            check(self)

    def seeds(self) -> list[int]:
        """Batch item i uses seed + i (wrapping within the 32-bit range)."""
        return [(self.seed + i) % (MAX_SEED + 1) for i in range(self.batch)]

    @property
    def denoising_steps(self) -> int:
        """Denoising steps the job will report (strength shortens img2img / inpaint / outpaint); with
        the hires fix, both passes."""
        if self.uses_hires:
            return self.steps + self.hires_pass_steps
        if self.uses_upscale:  # per tile (the plan multiplies by the tiles); 0 without refine
            return denoising_steps(self.steps, self.upscale.refine) if self.upscale.refine else 0
        return denoising_steps(self.steps, None if self.mode is Mode.TXT2IMG else self.strength)

    @property
    def uses_hires(self) -> bool:
        """Whether the job runs the hires fix's second pass (txt2img with it enabled)."""
        return self.mode is Mode.TXT2IMG and self.hires.enabled

    @property
    def uses_upscale(self) -> bool:
        """Whether the job is "Upscale…" of its init image (img2img with `upscale` enabled)."""
        return self.mode is Mode.IMG2IMG and self.upscale.enabled

    @property
    def hires_pass_steps(self) -> int:
        """Denoising steps of the hires pass (strength-reduced as diffusers' img2img does)."""
        return denoising_steps(self.hires.steps or self.steps, self.hires.denoise)


def denoising_steps(steps: int, strength: float | None) -> int:
    """All `steps`, or diffusers' strength-reduced count (``int(steps * strength)``)."""
    if strength is None:
        return steps
    return min(int(steps * strength), steps)


def check_request(request: GenerationRequest) -> GenerationRequest:
    """The request as the engine runs it: enum fields given as plain strings (from JSON, say) become
    enums, then it is validated. Raises ValueError with a message a person can act on.

    Engines call this once, when a job is submitted; nothing else needs to."""
    try:
        request = _normalized(request)
    except ValueError as exc:
        raise ValueError(f"The request has an unknown option: {exc}") from exc
    try:
        request.validate()
    except ValueError:
        raise
    except Exception as exc:  # a broken image object, say: still a problem with the request
        raise ValueError(f"The request could not be read: {exc}") from exc
    return request


def _normalized(request: GenerationRequest) -> GenerationRequest:
    changes: dict[str, object] = {}
    if not isinstance(request.mode, Mode):
        changes["mode"] = Mode(request.mode)
    if not isinstance(request.preview, PreviewKind):
        changes["preview"] = PreviewKind(request.preview)
    opts = request.mask_options
    if not isinstance(opts.area, InpaintArea) or not isinstance(opts.fill, MaskedContent):
        changes["mask_options"] = dataclasses.replace(
            opts, area=InpaintArea(opts.area), fill=MaskedContent(opts.fill)
        )
    return request.replace(**changes) if changes else request


def round_to_multiple_of_8(value: int) -> int:
    """Nearest multiple of 8, halves rounded up (100 -> 104), never below 8."""
    return max(8, int(value / 8.0 + 0.5) * 8)


def _in_range(name: str, value: float, low: float, high: float, hint: str = "") -> None:
    if not (low <= value <= high):
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value:g}.{hint}")


def _whole_in_range(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    _in_range(name, value, low, high)


def _check_numbers(r: GenerationRequest) -> None:
    if not isinstance(r.steps, int) or isinstance(r.steps, bool):
        raise ValueError(f"Steps must be a whole number, not {r.steps!r}.")
    _in_range("Steps", r.steps, 1, MAX_STEPS)
    _in_range("Guidance (CFG scale)", r.guidance, 0, MAX_GUIDANCE)
    _in_range("Strength", r.strength, 0, 1)
    _whole_in_range("Batch size", r.batch, 1, MAX_BATCH)
    if not isinstance(r.seed, int) or not (0 <= r.seed <= MAX_SEED):
        raise ValueError(f"Seed must be a whole number from 0 to {MAX_SEED}, not {r.seed!r}.")
    _whole_in_range("Preview interval", r.preview_interval, 1, MAX_STEPS)
    if r.uses_upscale:
        return  # its strength and steps are the refine's (_check_upscale)
    if r.mode in (Mode.IMG2IMG, Mode.INPAINT) and r.strength == 0:
        raise ValueError("Strength is 0, so nothing would change: raise it above 0 (0.5–0.8 is typical).")
    if r.mode is not Mode.TXT2IMG and r.denoising_steps < 1:
        raise ValueError(
            f"With {r.steps} steps and strength {r.strength:g} no denoising step would run: "
            "raise the steps or the strength."
        )


def _check_own_files(r: GenerationRequest) -> None:
    """Clip skip, LoRA references and the VAE / folder fields (issue 13)."""
    _whole_in_range("Clip skip", r.clip_skip, 1, MAX_CLIP_SKIP)
    if not isinstance(r.loras, tuple) or not all(isinstance(ref, LoraRef) for ref in r.loras):
        raise ValueError("The LoRA list could not be read: each LoRA needs a name and a weight.")
    for ref in r.loras:
        if not isinstance(ref.name, str) or not ref.name.strip():
            raise ValueError("A LoRA has no name: choose its file or remove it from the list.")
        weight = ref.weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise ValueError(f"The weight of LoRA {ref.name!r} must be a number, not {weight!r}.")
        if not -MAX_LORA_WEIGHT <= weight <= MAX_LORA_WEIGHT:
            raise ValueError(
                f"The weight of LoRA {ref.name!r} must be between {-MAX_LORA_WEIGHT:g} and "
                f"{MAX_LORA_WEIGHT:g}, not {weight:g}."
            )
    for name, dirs in (("LoRA folders", r.lora_dirs), ("Embedding folders", r.embedding_dirs)):
        if not isinstance(dirs, tuple) or not all(isinstance(d, str) for d in dirs):
            raise ValueError(f"{name} must be a list of folder paths, not {dirs!r}.")
    if not isinstance(r.vae, str):
        raise ValueError(f"The VAE must be a file or folder path, not {r.vae!r}.")


def _check_controls(r: GenerationRequest) -> None:
    check_controls(r.controls)
    if not isinstance(r.ip_image_encoder, str):
        raise ValueError(f"The IP-Adapter image encoder must be a folder path, not {r.ip_image_encoder!r}.")


def _check_hires(r: GenerationRequest) -> None:
    if not r.uses_hires:
        return
    h = r.hires
    if not isinstance(h.upscaler, str) or not h.upscaler.strip():
        raise ValueError(
            f"Unknown hires upscaler {h.upscaler!r}. Choose one of: {', '.join(HIRES_UPSCALERS)} or a "
            "model upscaler."
        )
    if isinstance(h.scale, bool) or not isinstance(h.scale, (int, float)) or not math.isfinite(h.scale):
        raise ValueError(f"Hires upscale must be a number, not {h.scale!r}.")
    _in_range("Hires upscale", h.scale, 1, MAX_HIRES_SCALE)
    _whole_in_range("Hires steps", h.steps, 0, MAX_STEPS)
    _in_range("Hires denoising strength", h.denoise, 0, 1)
    width, height = h.size(r.width, r.height)
    if max(width, height) > MAX_SIDE:
        raise ValueError(
            f"The hires fix would make a {width}x{height} image; sides are limited to {MAX_SIDE}: "
            "lower the upscale or the size."
        )
    if r.hires_pass_steps < 1:
        raise ValueError(
            f"With hires steps {h.steps or r.steps} and denoising strength {h.denoise:g} the hires pass "
            "would run no step: raise the hires denoising strength or the hires steps."
        )


def _check_upscale(r: GenerationRequest) -> None:
    if not isinstance(r.upscaler_dirs, tuple) or not all(isinstance(d, str) for d in r.upscaler_dirs):
        raise ValueError(f"Upscaler folders must be a list of folder paths, not {r.upscaler_dirs!r}.")
    if not r.uses_upscale:
        return
    u = r.upscale
    if not isinstance(u.upscaler, str) or not u.upscaler.strip() or u.upscaler in LATENT_UPSCALERS:
        raise ValueError(
            f"Unknown upscaler {u.upscaler!r}: choose {' or '.join(PIXEL_UPSCALERS)} or a model upscaler."
        )
    if isinstance(u.scale, bool) or not isinstance(u.scale, (int, float)) or not math.isfinite(u.scale):
        raise ValueError(f"The upscale factor must be a number, not {u.scale!r}.")
    _in_range("The upscale factor", u.scale, 1, MAX_UPSCALE)
    _in_range("Refine strength", u.refine, 0, 1)
    _whole_in_range("Tile size", u.tile, MIN_TILE, MAX_TILE)
    _whole_in_range("Tile overlap", u.overlap, 0, u.tile // 2)
    if r.batch != 1:
        raise ValueError("Upscaling makes one image: set the batch size to 1.")
    if r.init_image is not None:
        width, height = u.size(*r.init_image.size)
        if max(width, height) > MAX_UPSCALE_SIDE:
            raise ValueError(
                f"Upscaling would make a {width}x{height} image; sides are limited to {MAX_UPSCALE_SIDE}: "
                "lower the factor."
            )
    if u.refine and r.denoising_steps < 1:
        raise ValueError(
            f"With {r.steps} steps and refine strength {u.refine:g} no refine step would run: raise the "
            "steps or the strength (or set it to 0 for no refine)."
        )


def _check_size(r: GenerationRequest) -> None:
    for name, value in (("Width", r.width), ("Height", r.height)):
        if not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number of pixels, not {value!r}.")
        _in_range(name, value, MIN_SIDE, MAX_SIDE)
        if value % 8:
            raise ValueError(
                f"{name} {value} is not a multiple of 8; use {round_to_multiple_of_8(value)} instead."
            )


def _check_scheduler(r: GenerationRequest) -> None:
    if r.scheduler not in SCHEDULER_NAMES:
        raise ValueError(f"Unknown scheduler {r.scheduler!r}. Choose one of: {', '.join(SCHEDULER_NAMES)}.")


def _check_infill(r: GenerationRequest) -> None:
    check_infill_method(r.mask_options.infill)


def _check_images(r: GenerationRequest) -> None:
    if r.mode is Mode.TXT2IMG:
        return
    if r.init_image is None:
        raise ValueError(f"{r.mode.value} needs an input image; none was given.")
    w, h = r.init_image.size
    if w == 0 or h == 0:
        raise ValueError("The input image is empty (0 pixels wide or high).")
    if r.mode is Mode.INPAINT:
        _check_mask(r)
    if r.mode is Mode.OUTPAINT:
        _check_outpaint(r.outpaint)


def _check_mask(r: GenerationRequest) -> None:
    if r.mask is None:
        raise ValueError("Inpainting needs a mask: paint the area to regenerate.")
    if r.mask.size != r.init_image.size:  # type: ignore[union-attr]
        mw, mh = r.mask.size
        iw, ih = r.init_image.size  # type: ignore[union-attr]
        raise ValueError(f"The mask is {mw}x{mh} but the image is {iw}x{ih}; they must be the same size.")
    if r.mask.convert("L").getbbox() is None:
        raise ValueError("The mask is empty: paint the area to regenerate before inpainting.")
    _whole_in_range("Mask grow", r.mask_options.grow, -256, 256)
    _in_range("Mask feather", r.mask_options.feather, 0, 256)
    _whole_in_range("Mask padding", r.mask_options.padding, 0, 1024)


def _check_outpaint(o: OutpaintOptions) -> None:
    for side in ("left", "right", "top", "bottom"):
        _whole_in_range(f"Outpaint {side}", getattr(o, side), 0, MAX_OUTPAINT)
    if not o.any:
        raise ValueError("Outpainting needs at least one side to extend by more than 0 pixels.")
    _whole_in_range("Outpaint overlap", o.overlap, 0, 256)
