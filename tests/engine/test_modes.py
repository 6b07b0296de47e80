"""txt2img / img2img / inpaint / outpaint on 4- and 9-channel tiny models; batch seeds; determinism."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.events import Finished
from studio.core.masks import effective_mask
from studio.core.request import InpaintArea, MaskedContent, MaskOptions, Mode, OutpaintOptions


def _run(shared_engine, request) -> Finished:
    eng, rec = shared_engine
    end = rec.wait_for(eng.submit(request))
    assert isinstance(end, Finished), end
    return end


def _picture(size=(64, 64)) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _mask(size=(64, 64), box=(20, 20, 44, 40)) -> Image.Image:
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def _assert_unchanged_outside(result: Image.Image, original: Image.Image, eff: Image.Image) -> None:
    keep = np.asarray(eff) == 0
    assert keep.any()
    res, orig = np.asarray(result), np.asarray(original)
    assert np.array_equal(res[keep], orig[keep])


def _assert_changed_inside(result: Image.Image, original: Image.Image, eff: Image.Image) -> None:
    inside = np.asarray(eff) == 255
    assert not np.array_equal(np.asarray(result)[inside], np.asarray(original)[inside])


def test_txt2img_batch_uses_consecutive_seeds_and_is_deterministic(shared_engine, request_for):
    first = _run(shared_engine, request_for(batch=3, seed=40))
    again = _run(shared_engine, request_for(batch=3, seed=40))
    assert first.seeds == [40, 41, 42] and [p["Seed"] for p in first.parameters] == [40, 41, 42]
    arrays = [np.asarray(i) for i in first.images]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(arrays, again.images, strict=True))
    assert not np.array_equal(arrays[0], arrays[1])
    single = _run(shared_engine, request_for(batch=1, seed=41))
    assert np.abs(np.asarray(single.images[0]).astype(int) - arrays[1].astype(int)).max() <= 2


def test_img2img_resizes_to_the_requested_size(shared_engine, request_for):
    end = _run(shared_engine, request_for(mode=Mode.IMG2IMG, init_image=_picture((80, 48)), strength=0.6))
    assert end.images[0].size == (64, 64)


@pytest.mark.parametrize("area", [InpaintArea.WHOLE_IMAGE, InpaintArea.ONLY_MASKED])
@pytest.mark.parametrize("fill", list(MaskedContent))
def test_inpaint_keeps_pixels_outside_the_mask(shared_engine, request_for, area, fill):
    image, mask = _picture((96, 80)), _mask((96, 80))
    opts = MaskOptions(grow=2, feather=3, area=area, padding=8, fill=fill)
    req = request_for(mode=Mode.INPAINT, init_image=image, mask=mask, mask_options=opts, strength=1.0)
    end = _run(shared_engine, req)
    eff = effective_mask(mask, 2, 3)
    result = end.images[0]
    assert result.size == image.size
    _assert_unchanged_outside(result, image, eff)
    _assert_changed_inside(result, image, eff)


@pytest.mark.parametrize("area", [InpaintArea.WHOLE_IMAGE, InpaintArea.ONLY_MASKED])
def test_inpaint_with_a_9_channel_inpaint_model(shared_engine, request_for, tiny_inpaint_dir, area):
    image, mask = _picture(), _mask()
    opts = MaskOptions(grow=0, feather=2, area=area, padding=4)
    req = request_for(
        model=str(tiny_inpaint_dir),
        mode=Mode.INPAINT,
        init_image=image,
        mask=mask,
        mask_options=opts,
        batch=2,
    )
    end = _run(shared_engine, req)
    eff = effective_mask(mask, 0, 2)
    for result in end.images:
        _assert_unchanged_outside(result, image, eff)


def test_inpaint_model_also_does_txt2img_and_img2img(shared_engine, request_for, tiny_inpaint_dir):
    txt = _run(shared_engine, request_for(model=str(tiny_inpaint_dir)))
    assert txt.images[0].size == (64, 64)
    img = _run(
        shared_engine,
        request_for(model=str(tiny_inpaint_dir), mode=Mode.IMG2IMG, init_image=_picture(), strength=0.7),
    )
    assert img.images[0].size == (64, 64)


def test_inpaint_is_deterministic(shared_engine, request_for):
    req = request_for(mode=Mode.INPAINT, init_image=_picture(), mask=_mask(), strength=0.8)
    a, b = _run(shared_engine, req), _run(shared_engine, req)
    assert np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))


def test_rgba_input_keeps_its_mode_and_pixels(shared_engine, request_for):
    image = _picture().convert("RGBA")
    mask = _mask()
    end = _run(shared_engine, request_for(mode=Mode.INPAINT, init_image=image, mask=mask, strength=1.0))
    eff = effective_mask(mask, 0, 4)
    assert end.images[0].mode == "RGBA"
    _assert_unchanged_outside(end.images[0], image, eff)


@pytest.mark.parametrize("model", ["normal", "inpaint"])
def test_outpaint_extends_and_keeps_the_original(shared_engine, request_for, tiny_inpaint_dir, model):
    image = _picture((64, 48))
    opts = OutpaintOptions(left=16, right=8, top=0, bottom=24, overlap=8)
    req = request_for(
        mode=Mode.OUTPAINT,
        init_image=image,
        outpaint=opts,
        mask_options=MaskOptions(feather=2),
        strength=1.0,
    )
    if model == "inpaint":
        req = req.replace(model=str(tiny_inpaint_dir))
    end = _run(shared_engine, req)
    result = end.images[0]
    assert result.size == (64 + 16 + 8, 48 + 24)
    margin = opts.overlap  # the overlap bounds the change exactly, feather included (issue 12)
    kept = np.asarray(result)[0 : 48 - margin, 16 + margin : 16 + 64 - margin]
    assert np.array_equal(kept, np.asarray(image)[0 : 48 - margin, margin : 64 - margin])
    assert end.parameters[0]["Size"] == f"{result.width}x{result.height}"
