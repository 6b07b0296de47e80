"""Hires fix on the tiny models: output size, steps counted over both passes, previews in both
passes, cancel in the second pass, metadata written as A1111 writes it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.events import Cancelled, Finished, Started, Step
from studio.core.request import HiresOptions, PreviewKind


def _run(shared_engine, request) -> Finished:
    eng, rec = shared_engine
    end = rec.wait_for(eng.submit(request))
    assert isinstance(end, Finished), end
    return end


def _hires(**changes) -> HiresOptions:
    return HiresOptions(enabled=True, **changes)


@pytest.mark.parametrize(
    "upscaler", ["Latent", "Latent (bicubic antialiased)", "Latent (nearest-exact)", "Lanczos"]
)
def test_output_is_base_size_times_scale_and_steps_count_both_passes(shared_engine, request_for, upscaler):
    eng, rec = shared_engine
    request = request_for(
        width=64, height=48, steps=4, batch=2, hires=_hires(scale=1.5, upscaler=upscaler, denoise=0.5)
    )
    job = eng.submit(request)
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert [image.size for image in end.images] == [(96, 72), (96, 72)]
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    assert started.plan.result_size == (96, 72) and started.plan.generation_size == (64, 48)
    assert started.plan.total_steps == 4 + 2  # 4 base steps + int(4 x 0.5)
    steps = [(e.step, e.total) for e in rec.of(job) if isinstance(e, Step)]
    assert steps == [(i, 6) for i in range(1, 7)]
    params = end.parameters[0]
    assert params["Size"] == "64x48"  # A1111 writes the first pass's size
    assert params["Hires upscale"] == 1.5 and params["Hires upscaler"] == upscaler
    assert params["Denoising strength"] == 0.5 and "Hires steps" not in params


def test_hires_pass_changes_the_upscaled_first_pass_and_is_deterministic(shared_engine, request_for):
    base = _run(shared_engine, request_for(steps=3)).images[0]
    hires = request_for(steps=3, hires=_hires(scale=2, upscaler="Lanczos", steps=4, denoise=0.75))
    first, again = (_run(shared_engine, hires).images[0] for _ in range(2))
    assert first.size == (128, 128)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    plain_upscale = np.asarray(base.resize((128, 128))).astype(int)
    assert np.abs(np.asarray(first).astype(int) - plain_upscale).mean() > 1  # the second pass ran
    end = _run(shared_engine, hires)
    assert end.parameters[0]["Hires steps"] == 4


def test_previews_arrive_in_both_passes(shared_engine, request_for):
    eng, rec = shared_engine
    request = request_for(steps=3, preview=PreviewKind.X0, hires=_hires(scale=2, denoise=1.0))
    job = eng.submit(request)
    assert isinstance(rec.wait_for(job), Finished)
    previews = {
        e.step: e.preview.shape[:2] for e in rec.of(job) if isinstance(e, Step) and e.preview is not None
    }
    assert set(previews) == set(range(1, 7))
    # previews at latent resolution: the hires pass's are twice the first pass's
    assert previews[4] == (2 * previews[3][0], 2 * previews[3][1]) and previews[6] == previews[4]


@pytest.mark.parametrize("cancel_at", [2, 5])  # the first pass (steps 1-3), the hires pass (4-23)
def test_cancel_in_either_pass_stops_the_job(shared_engine, request_for, cancel_at):
    eng, rec = shared_engine
    job = eng.submit(request_for(steps=3, hires=_hires(scale=2, steps=20, denoise=1.0)))
    job.subscribe(lambda e: job.cancel() if isinstance(e, Step) and e.step == cancel_at else None)
    end = rec.wait_for(job)
    assert isinstance(end, Cancelled), end
    assert cancel_at <= end.at_step <= cancel_at + 1
    assert max(e.step for e in rec.of(job) if isinstance(e, Step)) <= cancel_at + 1


def test_inpaint_model_runs_the_hires_fix_with_a_latent_upscaler(
    shared_engine, request_for, tiny_inpaint_dir
):
    request = request_for(
        model=str(tiny_inpaint_dir), steps=2, hires=_hires(scale=2, upscaler="Latent", denoise=0.5)
    )
    assert _run(shared_engine, request).images[0].size == (128, 128)


def test_hires_is_ignored_outside_txt2img(shared_engine, request_for):
    from PIL import Image

    from studio.core.request import Mode

    picture = Image.new("RGB", (64, 64), (90, 120, 30))
    request = request_for(mode=Mode.IMG2IMG, init_image=picture, strength=0.5, hires=_hires(scale=2))
    end = _run(shared_engine, request)
    assert end.images[0].size == (64, 64) and "Hires upscale" not in end.parameters[0]


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    from tests.engine.test_loading_families import tiny_sdxl

    folder = tmp_path_factory.mktemp("sdxl") / "tiny-xl"
    tiny_sdxl().save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.mark.parametrize(("upscaler", "scheduler"), [("Latent", "DPM++ 2M Karras"), ("Nearest", "Heun")])
def test_sdxl_runs_both_passes(shared_engine, request_for, sdxl_dir, upscaler, scheduler):
    eng, rec = shared_engine
    hires = _hires(scale=2, upscaler=upscaler)
    job = eng.submit(request_for(model=str(sdxl_dir), steps=2, scheduler=scheduler, hires=hires))
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert end.images[0].size == (128, 128)
    assert [e.step for e in rec.of(job) if isinstance(e, Step)] == [1, 2, 3]  # 2 + int(2 x 0.5)


def test_a_controlnet_guides_the_first_pass(shared_engine, request_for, tmp_path_factory):
    from PIL import ImageDraw

    from studio.core.control import ControlUnit
    from tests.engine import control_files

    controlnet = control_files.controlnet_folder(tmp_path_factory.mktemp("cn") / "cn", seed=1)
    picture = Image.new("RGB", (64, 64), (240, 240, 230))
    ImageDraw.Draw(picture).ellipse((12, 12, 52, 52), outline=(20, 20, 20), width=3)

    def unit(weight: float) -> ControlUnit:
        return ControlUnit(model=str(controlnet), image=picture, weight=weight, preprocessor="canny")

    hires = _hires(scale=2, upscaler="Latent", denoise=0.5)
    plain = _run(shared_engine, request_for(hires=hires))
    zero = _run(shared_engine, request_for(hires=hires, controls=(unit(0.0),)))
    guided = _run(shared_engine, request_for(hires=hires, controls=(unit(1.0),)))
    pixels = [np.asarray(end.images[0], dtype=np.int16) for end in (plain, zero, guided)]
    assert all(p.shape == (128, 128, 3) for p in pixels)
    assert np.array_equal(pixels[0], pixels[1])  # weight 0: exactly no control
    assert np.abs(pixels[2] - pixels[0]).max() > 8
    assert "ControlNet 0" in guided.parameters[0] and guided.parameters[0]["Hires upscale"] == 2
