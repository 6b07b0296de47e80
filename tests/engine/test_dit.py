"""SD3 and Flux (diffusion transformers, flow matching) through the Engine, their single-file
detection, the flow-matching preview formula and GGUF transformers. Tiny random models (tests/dit_models)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from studio.core.events import Cancelled, Failed, FailureKind, Finished, Started, Step
from studio.core.request import GenerationRequest, Mode, PreviewKind
from tests.dit_models import TINY_SIZE, save_tiny_flux, save_tiny_sd3


@pytest.fixture(scope="module")
def sd3_dir(tmp_path_factory):
    return save_tiny_sd3(tmp_path_factory.mktemp("dit") / "tiny-sd3")


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    return save_tiny_flux(tmp_path_factory.mktemp("dit") / "tiny-flux-dev")


@pytest.fixture(scope="module", params=["sd3", "flux"])
def dit_dir(request, sd3_dir, flux_dir):
    return {"sd3": sd3_dir, "flux": flux_dir}[request.param]


def _request(model, **changes) -> GenerationRequest:
    base = GenerationRequest(
        prompt="a red cat in the snow",
        negative_prompt="",
        model=str(model),
        steps=2,
        guidance=3.5,
        width=TINY_SIZE,
        height=TINY_SIZE,
        seed=11,
        scheduler="Euler",
        preview=PreviewKind.X0,
    )
    return base.replace(**changes)


def _image() -> Image.Image:
    ramp = np.linspace(0, 255, TINY_SIZE, dtype=np.uint8)
    rgb = np.stack(
        [np.tile(ramp, (TINY_SIZE, 1)), np.tile(ramp[:, None], (1, TINY_SIZE)), np.full((64, 64), 90)], -1
    )
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def _steps(rec, job) -> list[Step]:
    return [e for e in rec.of(job) if isinstance(e, Step)]


def test_txt2img_img2img_inpaint_with_a_preview_every_step(shared_engine, dit_dir):
    eng, rec = shared_engine
    source = _image()
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (16, 16, 48, 48))
    jobs = {
        Mode.TXT2IMG: _request(dit_dir),
        Mode.IMG2IMG: _request(dit_dir, mode=Mode.IMG2IMG, init_image=source, strength=1.0),
        Mode.INPAINT: _request(dit_dir, mode=Mode.INPAINT, init_image=source, mask=mask, strength=1.0),
    }
    for mode, request in jobs.items():
        job = eng.submit(request)
        end = rec.wait_for(job, 300)
        assert isinstance(end, Finished), (mode, end)
        image = end.images[0]
        assert image.size == (TINY_SIZE, TINY_SIZE)
        steps = _steps(rec, job)
        assert [s.step for s in steps] == [1, 2]
        for step in steps:  # an x0 preview at latent resolution (8x8 for 64 px), every step
            assert step.preview is not None and step.preview.shape == (TINY_SIZE // 8, TINY_SIZE // 8, 3)
            assert step.preview_kind is PreviewKind.X0
        if mode is Mode.INPAINT:  # outside the plan's effective (blurred) mask: the input's pixels, exactly
            effective = next(e for e in rec.of(job) if isinstance(e, Started)).plan.mask
            out, src, keep = np.asarray(image), np.asarray(source), np.asarray(effective) == 0
            assert keep.sum() > TINY_SIZE * TINY_SIZE // 4
            assert np.array_equal(out[keep], src[keep])
            assert not np.array_equal(out[~keep], src[~keep])


def test_dit_warnings_for_a1111_syntax_and_samplers(shared_engine, sd3_dir):
    eng, rec = shared_engine
    job = eng.submit(
        _request(sd3_dir, prompt="a (red:1.3) cat <lora:ink:0.5>", scheduler="DPM++ 2M Karras", clip_skip=2)
    )
    assert isinstance(rec.wait_for(job, 300), Finished)
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    text = " ".join(started.warnings)
    assert "plain text" in text and "prompt" in text
    assert '"DPM++ 2M Karras"' in text and "Euler (flow matching)" in text
    assert "Clip skip" in text


def test_flux_has_no_negative_prompt_and_schnell_no_cfg():
    from studio.engine.dit import call_kwargs, job_warnings
    from tests.dit_models import build_tiny_flux

    dev, schnell = build_tiny_flux(dev=True), build_tiny_flux(dev=False)
    request = _request("x", negative_prompt="blurry", prompt="(a cat:1.2) BREAK dog")
    kwargs = call_kwargs(dev, request, {"guidance_scale": 7.0}, {"width": 64, "height": 64})
    assert kwargs["prompt"] == "a cat dog" and kwargs["guidance_scale"] == 3.5
    assert "negative_prompt" not in kwargs
    assert "guidance_scale" not in call_kwargs(schnell, request, {}, {})
    assert any("no negative prompt" in w for w in job_warnings(dev, "flux", request))
    assert any("no guidance" in w for w in job_warnings(schnell, "flux", request))
    assert not any("no guidance" in w for w in job_warnings(dev, "flux", request))


def test_cancel_stops_within_a_step(make_engine, flux_dir, monkeypatch):
    eng, rec = make_engine()
    assert isinstance(rec.wait_for(eng.submit(_request(flux_dir, steps=1)), 300), Finished)
    transformer = eng._models.loaded.pipe.transformer
    original_forward = transformer.forward
    gate, calls = threading.Event(), []

    def slow_forward(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            gate.wait(10)
        return original_forward(*a, **kw)

    monkeypatch.setattr(transformer, "forward", slow_forward)
    job = eng.submit(_request(flux_dir, steps=20))
    job.subscribe(lambda e: job.cancel() if isinstance(e, Step) and e.step == 2 else None)
    rec.wait_event(lambda e: isinstance(e, Step) and e.job_id == job.id and e.step == 2)
    gate.set()
    end = job.wait(60)
    assert isinstance(end, Cancelled), end
    assert end.at_step in (2, 3)
    assert max(s.step for s in _steps(rec, job)) <= 3


def test_controls_are_refused_for_dit(shared_engine, sd3_dir):
    from studio.core.control import ControlKind, ControlUnit

    eng, rec = shared_engine
    unit = ControlUnit(kind=ControlKind.CONTROLNET, model="canny.safetensors", image=_image())
    end = rec.wait_for(eng.submit(_request(sd3_dir, controls=(unit,))), 300)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT
    assert "not supported for Stable Diffusion 3" in end.message


# ------------------------------------------------------------------------------------ previews
def test_flow_matching_x0_from_velocity_on_a_constructed_case():
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from studio.engine.preview import X0Capture

    torch.manual_seed(0)
    x0, noise = torch.randn(1, 16, 4, 4), torch.randn(1, 16, 4, 4)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=3.0)
    scheduler.set_timesteps(4)
    capture = X0Capture(scheduler)
    try:
        for index in range(2):  # exact velocity: each step's x0 is the true x0
            sigma = float(scheduler.sigmas[index])
            sample = (1 - sigma) * x0 + sigma * noise
            scheduler.step(noise - x0, scheduler.timesteps[index], sample)
            assert capture.sigma == pytest.approx(sigma)
            assert torch.allclose(capture.x0(), x0, atol=1e-5)
    finally:
        capture.restore()


def test_flux_previews_unpack_the_2x2_patches():
    import torch

    from studio.engine.dit import preview_unpacker
    from tests.dit_models import build_tiny_flux

    pipe = build_tiny_flux()
    latents = torch.randn(1, 16, 8, 8)
    packed = pipe._pack_latents(latents, 1, 16, 8, 8)
    assert packed.shape == (1, 16, 64)
    unpack = preview_unpacker(pipe, TINY_SIZE, TINY_SIZE)
    assert unpack is not None and torch.equal(unpack(packed), latents)


def test_published_colour_maps_for_sd3_and_flux_vaes():
    from types import SimpleNamespace

    from studio.engine.latent_rgb import latent_rgb_for

    def vae(scaling, shift):
        cfg = SimpleNamespace(
            latent_channels=16,
            block_out_channels=[128, 256, 512, 512],
            scaling_factor=scaling,
            shift_factor=shift,
        )
        return SimpleNamespace(config=cfg)

    sd3 = latent_rgb_for(vae(1.5305, 0.0609), folder=None, model_hash="", cache_dir=None)
    flux = latent_rgb_for(vae(0.3611, 0.1159), folder=None, model_hash="", cache_dir=None)
    assert (sd3.source, flux.source) == ("sd3", "flux")
    assert sd3.factors.shape == flux.factors.shape == (16, 3)
    assert not np.allclose(sd3.factors, flux.factors)
