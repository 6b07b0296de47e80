"""The SDXL family through the engine: txt2img, img2img and inpaint pipelines derived with from_pipe."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.events import Finished, Step
from studio.core.masks import effective_mask
from studio.core.request import MaskOptions, Mode, PreviewKind


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    from tests.engine.test_loading_families import tiny_sdxl

    folder = tmp_path_factory.mktemp("sdxl") / "tiny-xl"
    tiny_sdxl().save_pretrained(str(folder), safe_serialization=True)
    return folder


def test_sdxl_modes(shared_engine, request_for, sdxl_dir):
    eng, rec = shared_engine
    base = request_for(model=str(sdxl_dir), steps=2, preview=PreviewKind.X0, scheduler="DPM++ 2M Karras")
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((8, 8, 40, 40), fill=255)
    requests = [
        base,
        base.replace(mode=Mode.IMG2IMG, init_image=image, strength=1.0),
        base.replace(
            mode=Mode.INPAINT, init_image=image, mask=mask, mask_options=MaskOptions(feather=2), strength=1.0
        ),
    ]
    for request in requests:
        job = eng.submit(request)
        end = rec.wait_for(job)
        assert isinstance(end, Finished), end
        assert [e.step for e in rec.of(job) if isinstance(e, Step)] == [1, 2]
    keep = np.asarray(effective_mask(mask, 0, 2)) == 0
    assert np.array_equal(np.asarray(end.images[0])[keep], np.asarray(image)[keep])
    pipes = eng._models._pipes
    assert {type(p).__name__ for p in pipes.values()} == {
        "StableDiffusionXLPipeline",
        "StableDiffusionXLImg2ImgPipeline",
        "StableDiffusionXLInpaintPipeline",
    }
    assert eng._models.family == "sdxl"


def test_sdxl_controlnet_in_txt2img_and_inpaint(shared_engine, request_for, sdxl_dir, tmp_path):
    """An SDXL ControlNet (its config derived from the SDXL UNet) through the SDXL ControlNet pipelines."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    from studio.core.control import ControlUnit
    from studio.engine.control import controlnet_config

    unet = UNet2DConditionModel.from_pretrained(str(sdxl_dir / "unet"))
    torch.manual_seed(4)
    net = ControlNetModel.from_config(controlnet_config(dict(unet.config)))
    with torch.no_grad():
        for name, param in net.named_parameters():
            if "controlnet_down_blocks" in name or "controlnet_mid_block" in name:
                param.normal_(0, 0.5)
    net.save_pretrained(str(tmp_path / "cn-xl"))
    eng, rec = shared_engine
    sketch = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(sketch).ellipse((10, 10, 54, 54), outline="black", width=3)
    unit = ControlUnit(model=str(tmp_path / "cn-xl"), image=sketch, preprocessor="invert")
    base = request_for(model=str(sdxl_dir), steps=2, preview=PreviewKind.NONE)
    plain = rec.wait_for(eng.submit(base))
    controlled = rec.wait_for(eng.submit(base.replace(controls=(unit,))))
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((8, 8, 40, 40), fill=255)
    inpaint = rec.wait_for(
        eng.submit(
            base.replace(mode=Mode.INPAINT, init_image=sketch, mask=mask, strength=1.0, controls=(unit,))
        )
    )
    assert isinstance(plain, Finished) and isinstance(controlled, Finished) and isinstance(inpaint, Finished)
    assert (
        np.abs(np.asarray(controlled.images[0], dtype=int) - np.asarray(plain.images[0], dtype=int)).max() > 0
    )
    assert "ControlNet 0" in controlled.parameters[0]


def test_a_union_controlnet_takes_each_map_with_its_type(shared_engine, request_for, sdxl_dir, tmp_path):
    """xinsir-style union ControlNet (diffusers' ControlNetUnionModel, from the SDXL UNet): the union
    pipeline gets every map with its control type; maps of unknown kind are refused with a message."""
    import diffusers
    import torch
    from diffusers import ControlNetUnionModel, UNet2DConditionModel

    from studio.core.control import ControlUnit

    unet = UNet2DConditionModel.from_pretrained(str(sdxl_dir / "unet"))
    torch.manual_seed(5)
    from studio.engine.control import controlnet_config

    config = controlnet_config(dict(unet.config))
    config.pop("mid_block_type", None)  # not a ControlNetUnionModel argument
    width = config["block_out_channels"][0]
    net = ControlNetUnionModel.from_config(
        {
            **config,
            "num_control_type": 8,
            "num_trans_channel": width,
            "num_proj_channel": width,
            "num_trans_head": 2,
        }
    )
    net.save_pretrained(str(tmp_path / "union-xl"))
    sketch = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(sketch).ellipse((10, 10, 54, 54), outline="black", width=3)
    canny = ControlUnit(model=str(tmp_path / "union-xl"), image=sketch, preprocessor="canny")
    depth = canny.replace(preprocessor="depth")
    seen: list[object] = []
    call = diffusers.StableDiffusionXLControlNetUnionPipeline.__call__

    @functools.wraps(call)  # keeps the signature the runner inspects
    def recording(self, *args, **kwargs):
        seen.append(kwargs.get("control_mode"))
        return call(self, *args, **kwargs)

    eng, rec = shared_engine
    base = request_for(model=str(sdxl_dir), steps=2, preview=PreviewKind.NONE)
    diffusers.StableDiffusionXLControlNetUnionPipeline.__call__ = recording
    try:
        done = rec.wait_for(eng.submit(base.replace(controls=(canny, depth))))
    finally:
        diffusers.StableDiffusionXLControlNetUnionPipeline.__call__ = call
    assert isinstance(done, Finished), done
    assert seen == [[3, 1]]  # canny -> 3, depth -> 1
    unknown = rec.wait_for(eng.submit(base.replace(controls=(canny.replace(preprocessor="none"),))))
    assert not isinstance(unknown, Finished) and "needs to know what the map is" in unknown.message
