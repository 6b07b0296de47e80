"""The hires fix's upscalers on their own: every latent upscaler in every precision the engine runs,
the pixel upscalers, and a name that is not an upscaler."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from studio.core.request import LATENT_UPSCALERS, PIXEL_UPSCALERS
from studio.engine.hires import is_latent, upscale_latents, upscale_pixels


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", list(LATENT_UPSCALERS))
def test_latent_upscalers_resize_to_the_result_size(name, dtype):
    latents = torch.randn(2, 4, 8, 6).to(dtype)
    resized = upscale_latents(latents, name, (96, 128), 8)  # 48x64 px -> 96x128 px
    assert resized.shape == (2, 4, 16, 12) and resized.dtype == dtype and is_latent(name)
    assert torch.isfinite(resized.float()).all()


def test_nearest_latent_keeps_the_values():
    latents = torch.arange(4.0).reshape(1, 1, 2, 2)
    resized = upscale_latents(latents, "Latent (nearest-exact)", (32, 32), 8)
    assert resized[0, 0].tolist() == [[0.0, 0.0, 1.0, 1.0]] * 2 + [[2.0, 2.0, 3.0, 3.0]] * 2


@pytest.mark.parametrize("name", PIXEL_UPSCALERS)
def test_pixel_upscalers(name):
    images = [Image.new("RGB", (64, 48), (200, 10, 10)), Image.new("RGB", (64, 48))]
    out = upscale_pixels(images, name, (128, 96))
    assert [im.size for im in out] == [(128, 96)] * 2 and not is_latent(name)
    assert out[0].getpixel((100, 80)) == (200, 10, 10)


def test_an_unknown_pixel_upscaler_is_refused():
    with pytest.raises(ValueError, match="Unknown pixel upscaler"):
        upscale_pixels([Image.new("RGB", (8, 8))], "Latent", (16, 16))
