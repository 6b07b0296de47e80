"""ControlNet, T2I-Adapter and IP-Adapter through the engine (issue 14), on random-weight models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.a1111_text import format_a1111, parse_a1111
from studio.core.control import ControlKind, ControlMode, ControlUnit
from studio.core.events import Failed, FailureKind, Finished
from studio.core.metadata import ImageMetadata, request_from_metadata
from studio.core.plan import plan
from studio.core.request import GenerationRequest, Mode
from tests.engine import control_files


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("controls")
    return {
        "cn": control_files.controlnet_folder(folder / "cn-a", seed=1),
        "cn2": control_files.controlnet_file(folder / "cn-b.safetensors", seed=5),
        "cn_xl": control_files.controlnet_folder(folder / "cn-xl", seed=1, cross_width=2048),
        "t2i": control_files.adapter_folder(folder / "t2i"),
        "ip": control_files.ip_adapter_file(folder / "ip" / "ip-adapter_tiny.safetensors"),
        "encoder": control_files.image_encoder_folder(folder / "ip" / "image_encoder"),
    }


def _picture() -> Image.Image:
    image = Image.new("RGB", (64, 64), (240, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 12, 52, 52), outline=(20, 20, 20), width=3)
    draw.rectangle((28, 4, 36, 60), fill=(200, 30, 30))
    return image


def _pixels(event) -> np.ndarray:
    assert isinstance(event, Finished), event
    return np.asarray(event.images[0], dtype=np.int16)


def _unit(path: Path, **kw) -> ControlUnit:
    kw.setdefault("image", _picture())
    return ControlUnit(model=str(path), **kw)


def _run(shared_engine, request: GenerationRequest):
    engine, rec = shared_engine
    return rec.wait_for(engine.submit(request))


def test_controlnet_changes_the_image_weight_zero_gives_the_same_pixels_as_none(
    shared_engine, request_for, files
):
    base = _pixels(_run(shared_engine, request_for()))
    on = _pixels(_run(shared_engine, request_for(controls=(_unit(files["cn"], preprocessor="canny"),))))
    zero = _pixels(_run(shared_engine, request_for(controls=(_unit(files["cn"], weight=0.0),))))
    assert np.abs(on - base).max() > 8
    assert np.array_equal(zero, base)


def test_controlnet_runs_only_between_start_and_end(shared_engine, request_for, files):
    import diffusers

    scales: list[float] = []
    forward = diffusers.ControlNetModel.forward

    def recording(self, *args, **kwargs):
        scales.append(float(kwargs.get("conditioning_scale", args[4] if len(args) > 4 else 1.0)))
        return forward(self, *args, **kwargs)

    diffusers.ControlNetModel.forward = recording
    try:
        event = _run(shared_engine, request_for(steps=4, controls=(_unit(files["cn"], start=0.5, end=1.0),)))
    finally:
        diffusers.ControlNetModel.forward = forward
    assert isinstance(event, Finished)
    assert scales == [0.0, 0.0, 1.0, 1.0]  # 4 steps: the unit acts on the second half only


def test_two_controlnets_combine_and_the_models_are_kept_between_jobs(shared_engine, request_for, files):
    engine, _ = shared_engine
    one = _pixels(_run(shared_engine, request_for(controls=(_unit(files["cn"]),))))
    two = _pixels(
        _run(shared_engine, request_for(controls=(_unit(files["cn"]), _unit(files["cn2"], weight=0.8))))
    )
    loads = engine._models.controls.loads
    again = _pixels(
        _run(shared_engine, request_for(controls=(_unit(files["cn"]), _unit(files["cn2"], weight=0.8))))
    )
    assert np.abs(two - one).max() > 4
    assert np.array_equal(two, again)
    assert engine._models.controls.loads == loads  # no reload per job


def test_prompt_and_control_modes_change_the_result(shared_engine, request_for, files):
    balanced = _pixels(_run(shared_engine, request_for(controls=(_unit(files["cn"]),))))
    prompt = _pixels(
        _run(shared_engine, request_for(controls=(_unit(files["cn"], mode=ControlMode.PROMPT),)))
    )
    control = _pixels(
        _run(shared_engine, request_for(controls=(_unit(files["cn"], mode=ControlMode.CONTROL),)))
    )
    again = _pixels(_run(shared_engine, request_for(controls=(_unit(files["cn"]),))))
    assert np.abs(prompt - balanced).max() > 0 and np.abs(control - balanced).max() > 0
    assert np.array_equal(again, balanced)  # prompt mode's scaling does not stay on the model


def test_controlnet_in_img2img_and_inpaint(shared_engine, request_for, files):
    image = _picture()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    unit = (_unit(files["cn"], preprocessor="lineart"),)
    img2img = _run(
        shared_engine, request_for(mode=Mode.IMG2IMG, init_image=image, strength=0.7, controls=unit)
    )
    inpaint_request = request_for(mode=Mode.INPAINT, init_image=image, mask=mask, strength=0.9, controls=unit)
    inpaint = _run(shared_engine, inpaint_request)
    assert isinstance(img2img, Finished) and isinstance(inpaint, Finished)
    outside = np.asarray(plan(inpaint_request).mask) == 0  # the effective (grown, feathered) mask
    assert outside.sum() > 1000
    assert np.array_equal(np.asarray(inpaint.images[0])[outside], np.asarray(image)[outside])


def test_an_sd15_controlnet_on_another_family_is_refused_naming_both(shared_engine, request_for, files):
    event = _run(shared_engine, request_for(controls=(_unit(files["cn_xl"]),)))
    assert isinstance(event, Failed) and event.kind is FailureKind.INPUT, event
    assert "SDXL" in event.message and "choose a ControlNet made for" in event.message


def test_bad_control_models_get_clear_messages(shared_engine, request_for, tmp_path):
    pickled = tmp_path / "old_control.pth"
    pickled.write_bytes(b"\x80\x04not really")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"garbage")
    for path, words in (
        (pickled, "pickled"),
        (junk, "could not be loaded"),
        (tmp_path / "nope", "not found"),
    ):
        event = _run(shared_engine, request_for(controls=(_unit(path),)))
        assert isinstance(event, Failed) and event.kind is FailureKind.INPUT, (path, event)
        assert words in event.message


def test_t2i_adapter_in_txt2img_and_refused_in_img2img(shared_engine, request_for, files):
    base = _pixels(_run(shared_engine, request_for()))
    unit = _unit(files["t2i"], kind=ControlKind.T2I_ADAPTER, preprocessor="canny")
    on = _pixels(_run(shared_engine, request_for(controls=(unit,))))
    assert np.abs(on - base).max() > 0
    refused = _run(shared_engine, request_for(mode=Mode.IMG2IMG, init_image=_picture(), controls=(unit,)))
    assert isinstance(refused, Failed) and "txt2img only" in refused.message


def test_ip_adapter_weight_zero_is_a_no_op_and_a_weight_changes_the_image(shared_engine, request_for, files):
    base = _pixels(_run(shared_engine, request_for()))
    ref = Image.new("RGB", (48, 48), (30, 160, 60))
    ip = ControlUnit(kind=ControlKind.IP_ADAPTER, model=str(files["ip"]), image=ref)
    on = _pixels(_run(shared_engine, request_for(controls=(ip,))))
    zero = _pixels(_run(shared_engine, request_for(controls=(ip.replace(weight=0.0),))))
    after = _pixels(_run(shared_engine, request_for()))
    assert np.abs(on - base).max() > 4
    assert np.abs(zero - base).max() <= 1  # the adapter's attention adds 0 x its tokens
    assert np.array_equal(after, base)  # unloaded when a job has none


def test_ip_adapter_and_controlnet_in_one_job_and_metadata_round_trip(shared_engine, request_for, files):
    ip = ControlUnit(kind=ControlKind.IP_ADAPTER, model=str(files["ip"]), image=_picture(), weight=0.6)
    cn = _unit(files["cn2"], preprocessor="canny", low_threshold=50, high_threshold=150, image_name="Sketch")
    event = _run(shared_engine, request_for(controls=(cn, ip)))
    assert isinstance(event, Finished), event
    params = event.parameters[0]
    assert params["ControlNet 0"].startswith("Module: canny, Model: cn-b [")
    assert "Threshold A: 50" in params["ControlNet 0"] and "Studio Image: Sketch" in params["ControlNet 0"]
    assert "Studio Type: ip_adapter" in params["ControlNet 1"]
    parsed = parse_a1111(format_a1111(params))  # the A1111 text alone, as another tool writes it
    meta = ImageMetadata(parsed.pop("prompt"), parsed.pop("negative_prompt"), parsed)
    notes: list[str] = []
    request_from_metadata(meta, request_for(), notes)
    assert any("not applied: ControlNet canny 1" in n and "IP-Adapter" in n for n in notes), notes


def test_ip_adapter_region_mask_black_acts_nowhere_white_everywhere(shared_engine, request_for, files):
    base = _pixels(_run(shared_engine, request_for()))
    ref = Image.new("RGB", (48, 48), (30, 160, 60))
    ip = ControlUnit(kind=ControlKind.IP_ADAPTER, model=str(files["ip"]), image=ref)
    whole = _pixels(_run(shared_engine, request_for(controls=(ip,))))
    white = _pixels(
        _run(shared_engine, request_for(controls=(ip.replace(mask=Image.new("L", (64, 64), 255)),)))
    )
    black = _pixels(
        _run(shared_engine, request_for(controls=(ip.replace(mask=Image.new("L", (64, 64), 0)),)))
    )
    assert np.abs(white - whole).max() <= 1
    assert np.abs(black - base).max() <= 1 and np.abs(whole - base).max() > 4


def test_an_inpaint_controlnet_sees_the_masked_area_marked_and_is_refused_in_txt2img(
    shared_engine, request_for, files
):
    import diffusers

    image = _picture()
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    seen = []
    forward = diffusers.ControlNetModel.forward

    def recording(self, *args, **kwargs):
        seen.append(kwargs["controlnet_cond"].detach().clone())
        return forward(self, *args, **kwargs)

    unit = _unit(files["cn"], preprocessor="inpaint", image=image)
    diffusers.ControlNetModel.forward = recording
    try:
        done = _run(
            shared_engine,
            request_for(mode=Mode.INPAINT, init_image=image, mask=mask, strength=0.9, controls=(unit,)),
        )
    finally:
        diffusers.ControlNetModel.forward = forward
    assert isinstance(done, Finished), done
    cond = seen[0][0]  # (3, H, W), the first of the guided batch
    assert float(cond.min()) == -1.0 and float(cond[:, 32, 32].max()) == -1.0  # inside the mask
    assert float(cond[:, 2, 2].min()) >= 0.0  # kept pixels carry the image
    refused = _run(shared_engine, request_for(controls=(unit,)))
    assert isinstance(refused, Failed) and "inpaint or outpaint" in refused.message
