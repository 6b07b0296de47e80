"""Control units (issue 14): validation, JSON / metadata / preset round trips, the preprocessors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core import request_io
from studio.core.control import ControlKind, ControlMode, ControlUnit, a1111_fields, units_from_a1111
from studio.core.control_images import control_for_plan, control_map
from studio.core.plan import plan
from studio.core.request import GenerationRequest, Mode, OutpaintOptions


def _shapes(size: int = 96) -> Image.Image:
    image = Image.new("RGB", (size, size), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 50, 40), fill=(30, 60, 200))
    draw.ellipse((40, 40, 90, 90), outline=(10, 10, 10), width=3)
    return image


def _unit(**kw) -> ControlUnit:
    kw.setdefault("model", "/models/control_sd15_canny.safetensors")
    kw.setdefault("image", _shapes())
    return ControlUnit(**kw)


def test_canny_preprocessor_matches_opencv():
    import cv2

    image = _shapes()
    ours = np.asarray(control_map(image, "canny", 80, 160))
    gray = cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)
    expected = cv2.Canny(gray, 80, 160)
    assert ours.shape == (96, 96, 3)
    assert np.array_equal(ours[..., 0], expected) and ours[..., 0].any()


@pytest.mark.parametrize("name", ["softedge", "lineart", "invert", "tile", "scribble", "none"])
def test_each_preprocessor_gives_an_rgb_map_of_the_same_size_that_follows_the_shapes(name):
    out = np.asarray(control_map(_shapes(), name))
    assert out.shape == (96, 96, 3) and out.dtype == np.uint8
    if name in ("softedge", "lineart", "scribble"):  # white lines on black where the drawing has edges
        assert out[..., 0].mean() < 128 and out[70, 2:22].max() == 0  # blank paper stays black
        assert out[40, 10:14].max() > 100 or out[10:14, 30].max() > 100  # the rectangle's edge shows


def test_scribble_reads_strokes_of_a_transparent_paint_layer():
    layer = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line((5, 32, 60, 32), fill=(255, 0, 0, 255), width=2)
    out = np.asarray(control_map(layer, "scribble"))[..., 0]
    assert out[32, 30] == 255 and out[10, 30] == 0 and out[34, 30] == 255  # thickened


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"model": ""}, "has no model"),
        ({"image": None}, "has no image"),
        ({"weight": 3.0}, "weight must be between 0 and 2"),
        ({"start": 0.6, "end": 0.4}, "start (0.6) must come before end (0.4)"),
        ({"preprocessor": "depth_midas"}, "depth, normal and pose maps: bring them as images"),
        ({"kind": ControlKind.IP_ADAPTER, "preprocessor": "canny"}, "reference picture as it is"),
        ({"low_threshold": 300}, "from 0 to 255"),
    ],
)
def test_bad_units_are_refused_with_a_message(change, words):
    request = GenerationRequest(controls=(_unit(**change),))
    with pytest.raises(ValueError, match="Control 1") as err:
        request.validate()
    assert words in str(err.value)


def test_controlnet_and_t2i_adapter_units_are_not_mixed():
    request = GenerationRequest(controls=(_unit(), _unit(kind=ControlKind.T2I_ADAPTER)))
    with pytest.raises(ValueError, match="cannot run in one job"):
        request.validate()


def test_controls_round_trip_through_json_and_a_preset_without_their_images():
    units = (
        _unit(
            weight=0.7, start=0.1, end=0.8, mode=ControlMode.PROMPT, preprocessor="canny", image_name="Sketch"
        ),
        _unit(kind=ControlKind.IP_ADAPTER, model="/ip/ip-adapter_sd15.safetensors", weight=0.5),
    )
    data = request_io.request_to_dict(GenerationRequest(controls=units))
    import json

    notes: list[str] = []
    back = request_io.apply_dict(GenerationRequest(), json.loads(json.dumps(data)), notes)
    assert notes == []
    assert back.controls == units  # every setting; images are not compared (the artist adds them)
    assert all(u.image is None for u in back.controls)
    with pytest.raises(ValueError, match="has no image: choose a layer"):
        back.validate()  # a job cannot run until the images are there: said, not skipped


def test_a1111_text_names_each_unit_and_reads_back():
    units = (_unit(preprocessor="canny", low_threshold=90, high_threshold=180, weight=0.8, end=0.75),)
    fields = a1111_fields(units, {units[0].model: "d14c016b"})
    assert fields["ControlNet 0"] == (
        "Module: canny, Model: control_sd15_canny [d14c016b], Weight: 0.8, Guidance Start: 0, "
        "Guidance End: 0.75, Control Mode: Balanced, Threshold A: 90, Threshold B: 180"
    )
    back, notes = units_from_a1111(fields)
    assert notes == []
    assert (back[0].preprocessor, back[0].weight, back[0].end, back[0].model) == (
        "canny",
        0.8,
        0.75,
        "control_sd15_canny",
    )


def test_control_image_follows_the_plan_region_for_only_masked_and_outpaint():
    from studio.core.request import InpaintArea, MaskOptions

    image = _shapes()
    mask = Image.new("L", image.size, 0)
    mask.paste(255, (60, 60, 80, 80))
    inpaint = GenerationRequest(
        mode=Mode.INPAINT, init_image=image, mask=mask, width=64, height=64,
        mask_options=MaskOptions(area=InpaintArea.ONLY_MASKED, padding=8),
    )  # fmt: skip
    the_plan = plan(inpaint)
    assert np.array_equal(
        np.asarray(control_for_plan(image, the_plan)), np.asarray(image.crop(the_plan.region))
    )
    outpaint = GenerationRequest(
        mode=Mode.OUTPAINT, init_image=image, outpaint=OutpaintOptions(left=32), width=64, height=64
    )
    out_plan = plan(outpaint)
    mapped = np.asarray(control_for_plan(image, out_plan))
    assert mapped.shape[1] == out_plan.region[2] - out_plan.region[0]
    assert mapped[:, :32].max() == 0  # no control where the canvas grew
    assert np.array_equal(mapped[:, 32:], np.asarray(image)[: mapped.shape[0], : mapped.shape[1] - 32])
