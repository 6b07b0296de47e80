"""Model upscalers through engine/upscale.py: a random ESRGAN built from spandrel's RRDBNet, saved and
loaded back (.safetensors and a .pth state dict); sizes, tiling, alpha, and bad files."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from studio.engine.loading.errors import ModelLoadError
from studio.engine.upscale import UpscalerNotFound, find_upscaler, load_upscaler, upscale, upscale_images
from tests.upscaler_files import esrgan_file


@pytest.fixture(scope="module")
def esrgan(tmp_path_factory) -> object:
    return esrgan_file(tmp_path_factory.mktemp("ups") / "4x-Tiny.safetensors")


def _picture(size=(40, 28)) -> Image.Image:
    rng = np.random.default_rng(1)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_a_random_esrgan_loads_and_makes_the_image_scale_times_larger(tmp_path, suffix):
    path = esrgan_file(tmp_path / f"4x-Tiny{suffix}")
    model = load_upscaler(path)
    assert (model.name, model.architecture, model.scale) == ("4x-Tiny", "ESRGAN", 4)
    out = upscale(_picture(), model, (160, 112))
    assert out.size == (160, 112) and out.mode == "RGB"
    assert np.asarray(out).std() > 0  # the model's own output, not a blank image
    assert "torchvision" not in sys.modules  # the stand-in is gone after spandrel's import


def test_any_scale_is_blended_at_the_size_asked_for_not_the_models(esrgan, monkeypatch):
    import studio.engine.upscale as module

    model = load_upscaler(esrgan)
    exact = upscale(_picture(), model, (160, 112))
    sizes: list[tuple[int, int]] = []
    blender = module.TileBlender
    monkeypatch.setattr(
        module, "TileBlender", lambda size, *a, **k: sizes.append(size) or blender(size, *a, **k)
    )
    two_and_a_half = upscale(_picture(), model, (100, 70), tile=24, overlap=8)
    assert two_and_a_half.size == (100, 70)
    assert sizes == [(100, 70)]  # a 2.5x job never holds the 4x image (memory for big inputs)
    expected = np.asarray(exact.resize((100, 70), Image.Resampling.LANCZOS)).astype(int)
    difference = np.abs(np.asarray(two_and_a_half).astype(int) - expected)
    assert difference.mean() < 4, difference.mean()  # the model's 4x output, Lanczos-resized per tile


def test_tiles_cover_the_image_and_blend_close_to_one_pass(esrgan):
    model = load_upscaler(esrgan)
    whole = np.asarray(upscale(_picture((64, 48)), model, (256, 192), tile=512)).astype(int)
    done: list[tuple[int, int]] = []
    tiled = upscale(
        _picture((64, 48)), model, (256, 192), tile=32, overlap=8, progress=lambda i, n: done.append((i, n))
    )
    assert done[-1] == (6, 6) and len(done) == 6  # 3 x 2 tiles of 32 px sharing 8
    difference = np.abs(np.asarray(tiled).astype(int) - whole)
    assert difference.mean() < 4, difference.mean()  # a 1-block model sees little past a tile's edge


def test_alpha_is_resized_and_kept(esrgan):
    layer = _picture().convert("RGBA")
    alpha = Image.new("L", layer.size, 0)
    alpha.paste(255, (0, 0, 20, 28))
    layer.putalpha(alpha)
    out = upscale(layer, load_upscaler(esrgan), (80, 56))
    assert out.mode == "RGBA" and out.getchannel("A").getpixel((10, 10)) == 255
    assert out.getchannel("A").getpixel((70, 50)) == 0


def test_found_by_name_in_the_folders_and_lanczos_needs_no_model(esrgan, tmp_path):
    assert find_upscaler("4x-Tiny", (str(tmp_path), str(esrgan.parent))) == esrgan
    with pytest.raises(UpscalerNotFound, match="'4x-Other' was not found"):
        find_upscaler("4x-Other", (str(esrgan.parent),))
    out = upscale_images([_picture()], "4x-Tiny", (80, 56), (str(esrgan.parent),))
    assert out[0].size == (80, 56)
    assert upscale_images([_picture()], "Lanczos", (81, 57))[0].size == (81, 57)


class _Code:  # a pickle that needs code to load
    def __reduce__(self):
        return (print, ("hello",))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pth", b"", "is empty"),
        ("text.pth", b"not a model at all", "could not be read"),
        ("text.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", "4x"),
        ("code.pth", None, "pickled Python code"),
        ("notes.txt", b"hello", "not an upscaler file"),
    ],
)
def test_bad_files_get_a_clear_message(tmp_path, name, content, message):
    path = tmp_path / name
    if content is None:
        torch.save({"x": _Code()}, str(path))
    else:
        path.write_bytes(content)
    with pytest.raises(ModelLoadError) as caught:
        load_upscaler(path)
    assert name in str(caught.value) or "not an upscaler" in str(caught.value)
    if message != "4x":
        assert message in str(caught.value)


def test_a_file_of_other_weights_is_not_an_upscaler(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "lora.safetensors"
    save_file(
        {"lora_unet_down.alpha": torch.ones(1), "lora_unet_down.lora_up.weight": torch.ones(4, 2)}, str(path)
    )
    with pytest.raises(ModelLoadError, match="lora.safetensors is not an upscaling model Studio knows"):
        load_upscaler(path)
