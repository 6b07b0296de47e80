"""The hires fix's upscale between its two passes (A1111's "Hires upscaler").

- Latent upscalers (`core.request.LATENT_UPSCALERS`) resize the first pass's latents with
  ``torch.nn.functional.interpolate`` (mode, antialias as A1111 names them); the second pass starts
  from those latents.
- Pixel upscalers (`core.request.PIXEL_UPSCALERS`) resize decoded images with Pillow; any other name
  is a model upscaler (ESRGAN and the like, `engine.upscale`: found by name in the request's
  `upscaler_dirs`, run tile by tile, then Lanczos to the exact size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PIL import Image

from studio.core.request import LATENT_UPSCALERS

if TYPE_CHECKING:
    import torch

    from studio.engine.aliases import Pipeline

Size = tuple[int, int]


def is_latent(upscaler: str) -> bool:
    """Whether `upscaler` works on latents (else on decoded pixels)."""
    return upscaler in LATENT_UPSCALERS


def upscale_latents(latents: torch.Tensor, upscaler: str, size: Size, vae_scale_factor: int) -> torch.Tensor:
    """Latents (N, C, h, w) -> the latents of a `size` (width, height) image."""
    import torch.nn.functional as F  # noqa: N812 - torch's own convention

    mode, antialias = LATENT_UPSCALERS[upscaler]
    width, height = size
    target = (height // vae_scale_factor, width // vae_scale_factor)
    work = latents.float()  # antialiased resizing has no fp16 / bf16 kernels on the CPU
    if mode in ("bilinear", "bicubic"):
        resized = F.interpolate(work, size=target, mode=mode, antialias=antialias, align_corners=False)
    else:
        resized = F.interpolate(work, size=target, mode=mode)
    return resized.to(latents.dtype)


def upscale_pixels(
    images: list[Image.Image], upscaler: str, size: Size, dirs: tuple[str, ...] = (), device: str = "cpu"
) -> list[Image.Image]:
    """Decoded images resized to `size` with a pixel upscaler or a model upscaler (found in `dirs`)."""
    from studio.engine.upscale import upscale_images

    return upscale_images(images, upscaler, size, dirs, device=device)


def decode_latents(pipe: Pipeline, latents: torch.Tensor) -> list[Image.Image]:
    """Latents as the UNet sees them -> RGB images, with `pipe`'s VAE (for pipelines that take pixels).

    A VAE that overflows in float16 (`force_upcast`, SDXL's) decodes in float32, as diffusers does."""
    import torch

    from studio.engine.runner import non_finite

    vae = pipe.vae
    dtype = vae.dtype
    upcast = dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))
    if upcast:
        vae.to(torch.float32)
    try:
        with torch.inference_mode():
            scaled = latents.to(dtype=vae.dtype) / vae.config.scaling_factor
            decoded = vae.decode(scaled, return_dict=False)[0].float()
    finally:
        if upcast:
            vae.to(dtype)
    if not bool(torch.isfinite(decoded).all()):
        raise non_finite(pipe)
    images: list[Image.Image] = pipe.image_processor.postprocess(decoded, output_type="pil")
    return images
