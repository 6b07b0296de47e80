""" "Upscale…" from the history keeps a palette PNG's transparency (tRNS), as studio-cli upscale does:
the request's image is RGBA, not flattened to RGB. With the FakeEngine (the request is what matters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from studio.core.request import UpscaleOptions


def test_a_palette_png_with_transparency_is_upscaled_with_its_alpha(window: Any, tmp_path: Path) -> None:
    path = tmp_path / "sticker.png"
    image = Image.new("P", (16, 8), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (4, 2, 12, 6))
    image.save(path, transparency=0)
    window.history_actions.ask_upscale = lambda *_: UpscaleOptions(enabled=True, scale=2.0)
    request = window.history_actions.upscale(path)
    assert request is not None and request.init_image.mode == "RGBA"
    alpha = request.init_image.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((6, 4)) == 255
