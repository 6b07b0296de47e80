""" "Upscale…" and the hires fix's model upscaler through the real Engine on the tiny model: sizes,
progress, metadata (A1111's `Hires upscaler: 4x-Tiny` written and read back), a missing upscaler's
message, and the tiled refine."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core import metadata as md
from studio.core.a1111_text import format_a1111, parse_a1111
from studio.core.events import Failed, FailureKind, Finished, Started, Step
from studio.core.request import GenerationRequest, HiresOptions, Mode, UpscaleOptions
from tests.upscaler_files import esrgan_file


@pytest.fixture(scope="module")
def upscalers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upscalers")
    esrgan_file(folder / "4x-Tiny.safetensors")
    return folder


def _gradient(size=(40, 24)) -> Image.Image:
    x = np.linspace(0, 255, size[0])[None, :].repeat(size[1], 0)
    return Image.fromarray(np.stack([x, x[::-1], np.full_like(x, 128)], -1).astype(np.uint8))


def _upscale_request(request_for, upscalers, **options) -> GenerationRequest:
    return request_for(
        mode=Mode.IMG2IMG,
        init_image=_gradient(),
        upscale=UpscaleOptions(enabled=True, **options),
        upscaler_dirs=(str(upscalers),),
    )


def test_upscale_with_a_model_upscaler_needs_no_diffusion_model(shared_engine, request_for, upscalers):
    eng, rec = shared_engine
    job = eng.submit(
        _upscale_request(request_for, upscalers, scale=2.5, upscaler="4x-Tiny").replace(model="/nowhere")
    )
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert end.images[0].size == (100, 60)
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    assert started.plan.result_size == (100, 60) and started.plan.total_steps == 0
    assert [e.step for e in rec.of(job) if isinstance(e, Step)] == [1]  # one tile
    params = end.parameters[0]
    assert params["Upscale"] == 2.5 and params["Upscaler"] == "4x-Tiny" and params["Size"] == "100x60"


def test_a_missing_upscaler_fails_with_a_message_naming_it(shared_engine, request_for, upscalers):
    eng, rec = shared_engine
    end = rec.wait_for(eng.submit(_upscale_request(request_for, upscalers, upscaler="4x-Missing")))
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT
    assert "4x-Missing" in end.message and "was not found" in end.message


def test_refine_runs_img2img_per_tile_and_counts_every_tiles_steps(shared_engine, request_for, upscalers):
    eng, rec = shared_engine
    request = _upscale_request(
        request_for, upscalers, scale=3, upscaler="Lanczos", refine=0.5, tile=64, overlap=16
    )
    request = request.replace(steps=4)
    job = eng.submit(request)
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert end.images[0].size == (120, 72)
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    assert started.plan.total_steps == 3 * 2 * 2  # 3 x 2 tiles of 64 px on 120x72, 2 steps each
    steps = [(e.step, e.total) for e in rec.of(job) if isinstance(e, Step)]
    assert steps == [(i, 12) for i in range(1, 13)]
    plain = np.asarray(_gradient().resize((120, 72), Image.Resampling.LANCZOS)).astype(int)
    assert np.abs(np.asarray(end.images[0]).astype(int) - plain).mean() > 1  # the refine ran
    assert end.parameters[0]["Denoising strength"] == 0.5 and end.parameters[0]["Tile size"] == 64


def test_hires_fix_with_a_model_upscaler_size_and_metadata_round_trip(
    shared_engine, request_for, upscalers, tmp_path
):
    eng, rec = shared_engine
    hires = HiresOptions(enabled=True, scale=2, upscaler="4x-Tiny", denoise=0.5)
    request = request_for(width=64, height=48, steps=4, hires=hires, upscaler_dirs=(str(upscalers),))
    end = rec.wait_for(eng.submit(request))
    assert isinstance(end, Finished), end
    assert end.images[0].size == (128, 96)
    params = end.parameters[0]
    assert params["Hires upscaler"] == "4x-Tiny" and params["Size"] == "64x48"
    text = format_a1111(params)
    assert "Hires upscaler: 4x-Tiny" in text
    parsed = parse_a1111(text)  # the A1111 text alone, as another tool would write it
    prompt, negative = parsed.pop("prompt"), parsed.pop("negative_prompt")
    a1111_only = md.ImageMetadata(prompt=prompt, negative_prompt=negative, settings=parsed, raw=text)
    notes: list[str] = []
    back = md.request_from_metadata(a1111_only, GenerationRequest(), notes)
    assert back.hires == hires and not any("upscaler" in note for note in notes), notes
    png = md.read_png_metadata(md.save_png(end.images[0], tmp_path / "hires.png", params))
    assert png is not None and md.request_from_metadata(png, GenerationRequest(), []).hires == hires


def test_cancel_between_upscaler_tiles(upscalers, tmp_path):
    import threading

    from studio.core.plan import plan
    from studio.core.request import check_request
    from studio.engine.runner import CallContext, JobCancelled
    from studio.engine.upscale_job import run_upscale

    cancel = threading.Event()
    steps: list[tuple[int, int]] = []

    def on_step(step, total, _previews, _kind):
        steps.append((step, total))
        cancel.set()  # the artist cancels after the first tile

    request = check_request(
        GenerationRequest(
            mode=Mode.IMG2IMG,
            init_image=_gradient((1100, 40)),  # 3 upscaler tiles of 512 px
            upscale=UpscaleOptions(enabled=True, scale=1.5, upscaler="4x-Tiny"),
            upscaler_dirs=(str(upscalers),),
        )
    )
    ctx = CallContext(cancel, on_step)
    with pytest.raises(JobCancelled) as caught:
        run_upscale(request, plan(request), ctx, "cpu")
    assert steps == [(1, 3)] and caught.value.at_step == 1
