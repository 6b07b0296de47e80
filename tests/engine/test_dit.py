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
        Mode.IMG2IMG: _request(
            dit_dir, mode=Mode.IMG2IMG, init_image=source, strength=1.0, scheduler="Euler Beta"
        ),
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
        _request(
            sd3_dir,
            prompt="a (red:1.3) cat",
            scheduler="DPM++ 2M Karras",
            clip_skip=2,
            vae=str(sd3_dir / "vae"),
        )
    )
    assert isinstance(rec.wait_for(job, 300), Finished)
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    text = " ".join(started.warnings)
    assert "plain text" in text and "prompt" in text
    assert '"DPM++ 2M Karras"' in text and "Euler (flow matching)" in text
    assert "Clip skip" in text and "separate VAE" in text
    params = rec.wait_for(job).parameters[0]
    assert params["Sampler"] == "Euler" and "Clip skip" not in params  # what really ran


def test_a_prompt_longer_than_t5_reads_is_warned():
    from studio.engine.dit import job_warnings
    from tests.dit_models import build_tiny_sd3

    pipe = build_tiny_sd3()
    long = _request("x", prompt="a red cat " * 100)
    assert any("reads the first 255" in w for w in job_warnings(pipe, "sd3", long))
    assert not any("reads the first" in w for w in job_warnings(pipe, "sd3", _request("x")))


def test_sides_not_multiple_of_16_generate_rounded_up_and_come_back_at_their_size(shared_engine, dit_dir):
    eng, rec = shared_engine
    txt = eng.submit(_request(dit_dir, width=72, height=56, preview=PreviewKind.NONE))
    source = _image().resize((40, 72))
    img = eng.submit(
        _request(dit_dir, mode=Mode.IMG2IMG, init_image=source, width=40, height=72, strength=0.5)
    )
    for job, size in ((txt, (72, 56)), (img, (40, 72))):
        end = rec.wait_for(job, 300)
        assert isinstance(end, Finished), end
        assert end.images[0].size == size


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


def test_cancel_stops_within_a_step_without_decoding(make_engine, dit_dir, monkeypatch):
    eng, rec = make_engine()
    assert isinstance(rec.wait_for(eng.submit(_request(dit_dir, steps=1)), 300), Finished)
    vae, decodes = eng._models.loaded.pipe.vae, []
    original_decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda *a, **kw: decodes.append(1) or original_decode(*a, **kw))
    transformer = eng._models.loaded.pipe.transformer
    original_forward = transformer.forward
    gate, calls = threading.Event(), []

    def slow_forward(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            gate.wait(10)
        return original_forward(*a, **kw)

    monkeypatch.setattr(transformer, "forward", slow_forward)
    job = eng.submit(_request(dit_dir, steps=20))
    job.subscribe(lambda e: job.cancel() if isinstance(e, Step) and e.step == 2 else None)
    rec.wait_event(lambda e: isinstance(e, Step) and e.job_id == job.id and e.step == 2)
    gate.set()
    end = job.wait(60)
    assert isinstance(end, Cancelled), end
    assert end.at_step in (2, 3)
    assert max(s.step for s in _steps(rec, job)) <= 3
    assert decodes == []


def test_controls_are_refused_for_dit(shared_engine, sd3_dir):
    from studio.core.control import ControlKind, ControlUnit

    eng, rec = shared_engine
    unit = ControlUnit(kind=ControlKind.CONTROLNET, model="canny.safetensors", image=_image())
    end = rec.wait_for(eng.submit(_request(sd3_dir, controls=(unit,))), 300)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT
    assert "not supported for Stable Diffusion 3" in end.message


def test_flux_hires_fix_with_the_default_latent_upscaler_uses_lanczos(shared_engine, flux_dir):
    from studio.core.request import HiresOptions

    eng, rec = shared_engine
    request = _request(flux_dir, batch=2, hires=HiresOptions(enabled=True, scale=2.0, upscaler="Latent"))
    job = eng.submit(request)
    end = rec.wait_for(job, 300)
    assert isinstance(end, Finished), end
    assert [im.size for im in end.images] == [(2 * TINY_SIZE, 2 * TINY_SIZE)] * 2
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    assert any("Lanczos instead of 'Latent'" in w for w in started.warnings)
    assert "Hires upscaler: Lanczos" in " ".join(f"{k}: {v}" for k, v in end.parameters[0].items())
    last = _steps(rec, job)[-1]  # the second pass's preview: unpacked at the result's latent size
    assert last.preview.shape == (2 * TINY_SIZE // 8, 2 * TINY_SIZE // 8, 3) and len(last.previews) == 2


def test_flux_lora_applies_for_one_job_and_comes_off_exactly(shared_engine, flux_dir, tmp_path):
    from tests.dit_models import save_flux_lora

    eng, rec = shared_engine
    lora = save_flux_lora(tmp_path / "loras")
    base = _request(flux_dir, preview=PreviewKind.NONE)
    with_lora = base.replace(prompt=base.prompt + " <lora:tiny-flux-lora:1>", lora_dirs=(str(lora.parent),))
    images = []
    for request in (base, with_lora, base):
        job = eng.submit(request)
        end = rec.wait_for(job, 300)
        assert isinstance(end, Finished), end
        images.append(np.asarray(end.images[0]))
        if request is with_lora:
            assert "Lora hashes" in end.parameters[0]
            assert not any(
                "plain text" in w for w in next(e for e in rec.of(job) if isinstance(e, Started)).warnings
            )
    assert not np.array_equal(images[0], images[1])  # the LoRA changed the image
    assert np.array_equal(images[0], images[2])  # and came off exactly


@pytest.mark.parametrize(
    ("sampler", "option"),
    [("Euler", None), ("Euler Karras", "use_karras_sigmas"), ("Euler Beta", "use_beta_sigmas")],
)
def test_flow_samplers_pick_their_sigma_schedule(sampler, option):
    from studio.engine.dit import as_run, flow_scheduler, sampler_warning
    from tests.dit_models import build_tiny_flux

    base = dict(build_tiny_flux().scheduler.config)
    scheduler = flow_scheduler(sampler, {**base, "use_karras_sigmas": True})  # a leftover is reset
    chosen = [
        k for k in ("use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas") if scheduler.config[k]
    ]
    assert chosen == ([option] if option else [])
    assert scheduler.config.use_dynamic_shifting  # the model's own config is kept
    assert sampler_warning(sampler, "flux") is None
    assert as_run(_request("x", scheduler=sampler)).scheduler == sampler
    assert as_run(_request("x", scheduler="DPM++ 2M")).scheduler == "Euler"


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


# ----------------------------------------------------------------------------- single files
def _names_file(path, names):
    import torch
    from safetensors.torch import save_file

    # Flux's input projection reads 64 channels (16 latent x 2x2); the other shapes do not matter here
    save_file(
        {n: torch.zeros(8, 64) if n.endswith("img_in.weight") else torch.zeros(2, 2) for n in names},
        str(path),
    )
    return path


def _sd3_names(blocks: int, prefix: str = "", attn2: bool = False) -> list[str]:
    names = [f"{prefix}{k}" for k in ("pos_embed", "x_embedder.proj.weight", "context_embedder.weight")]
    for i in range(blocks):
        names += [
            f"{prefix}joint_blocks.{i}.x_block.attn.qkv.weight",
            f"{prefix}joint_blocks.{i}.x_block.mlp.fc1.weight",
        ]
        names += [f"{prefix}joint_blocks.{i}.context_block.adaLN_modulation.1.bias"]
        if attn2:
            names.append(f"{prefix}joint_blocks.{i}.x_block.attn2.qkv.weight")
    return names


def _flux_names(prefix: str = "", guidance: bool = True) -> list[str]:
    names = ["img_in.weight", "txt_in.weight", "time_in.in_layer.weight", "vector_in.in_layer.weight"]
    names += ["double_blocks.0.img_attn.norm.key_norm.scale", "double_blocks.0.img_attn.qkv.weight"]
    names += ["single_blocks.0.linear1.weight", "final_layer.linear.weight"]
    if guidance:
        names += ["guidance_in.in_layer.weight", "guidance_in.out_layer.weight"]
    return [prefix + n for n in names]


@pytest.mark.parametrize(
    ("names", "family", "variant", "described"),
    [
        (_sd3_names(2), "sd3", "sd3-medium", "SD3 medium (transformer only)"),
        (_sd3_names(2, "model.diffusion_model."), "sd3", "sd3-medium", "SD3 medium (transformer only)"),
        (_sd3_names(38, "model.diffusion_model."), "sd3", "sd35-large", "SD3.5 large (transformer only)"),
        (_sd3_names(2, attn2=True), "sd3", "sd35-medium", "SD3.5 medium (transformer only)"),
        (
            _sd3_names(2, "model.diffusion_model.") + ["first_stage_model.decoder.conv_in.weight"],
            "sd3",
            "sd3-medium",
            "SD3 medium (with its own VAE / text encoders)",
        ),
        (_flux_names(), "flux", "flux-dev", "Flux dev (transformer only)"),
        (_flux_names("model.diffusion_model."), "flux", "flux-dev", "Flux dev (transformer only)"),
        (_flux_names(guidance=False), "flux", "flux-schnell", "Flux schnell (transformer only)"),
        (
            _flux_names("model.diffusion_model.", guidance=False),
            "flux",
            "flux-schnell",
            "Flux schnell (transformer only)",
        ),
    ],
)
def test_single_file_detection_of_sd3_and_flux_layouts(tmp_path, names, family, variant, described):
    from studio.engine.loading import inspect_checkpoint

    info = inspect_checkpoint(_names_file(tmp_path / "model.safetensors", names))
    assert (info.family, info.config_name, info.prediction_type) == (family, variant, "flow")
    assert info.describe() == described


def test_flux_fill_is_refused_by_its_input_width(tmp_path):
    import torch
    from safetensors.torch import save_file

    from studio.engine.loading import ModelLoadError, inspect_checkpoint

    state = {name: torch.zeros(2, 2) for name in _flux_names()}
    state["img_in.weight"] = torch.zeros(8, 384)
    save_file(state, str(tmp_path / "flux1-fill-dev.safetensors"))
    with pytest.raises(ModelLoadError, match="Flux Fill, Depth or Canny: 384 input channels"):
        inspect_checkpoint(tmp_path / "flux1-fill-dev.safetensors")
    state["img_in.weight"] = torch.zeros(8, 64)
    save_file(state, str(tmp_path / "flux1-dev.safetensors"))
    assert inspect_checkpoint(tmp_path / "flux1-dev.safetensors").config_name == "flux-dev"


def test_detection_of_diffusers_layout_transformer_files(tmp_path):
    from studio.engine.loading import inspect_checkpoint
    from tests.dit_models import flux_transformer, save_transformer_file, sd3_transformer

    sd3 = inspect_checkpoint(save_transformer_file(sd3_transformer(), tmp_path / "sd3.safetensors"))
    schnell = inspect_checkpoint(
        save_transformer_file(flux_transformer(guidance=False), tmp_path / "f.safetensors")
    )
    assert (sd3.family, sd3.config_name) == ("sd3", "sd3-medium")
    assert (schnell.family, schnell.config_name) == ("flux", "flux-schnell")


def test_transformer_file_without_its_other_parts_says_what_to_put_where(tmp_path):
    from studio.engine.loading import ModelLoadError, load_pipeline

    path = _names_file(tmp_path / "flux1-dev.safetensors", _flux_names())
    with pytest.raises(ModelLoadError) as err:
        load_pipeline(str(path), device="cpu", dtype=None)
    message = str(err.value)
    assert "holds only the Flux dev transformer" in message and "T5-XXL" in message
    assert (
        str(tmp_path) in message
        and "black-forest-labs/FLUX.1-dev" in message
        and "model_index.json" in message
    )
    # a file with its own text encoders / VAE: only its transformer is used (said so), the rest from a folder
    names = _sd3_names(2, "model.diffusion_model.") + ["first_stage_model.decoder.conv_in.weight"]
    with pytest.raises(
        ModelLoadError, match="Studio uses the SD3 medium transformer of sd3_medium_incl_clips"
    ):
        load_pipeline(
            str(_names_file(tmp_path / "sd3_medium_incl_clips.safetensors", names)), device="cpu", dtype=None
        )


def test_a_lone_transformer_file_fails_before_the_resident_model_is_unloaded(tmp_path, tiny_dir):
    import torch

    from studio.engine.loading import ModelLoadError
    from studio.engine.models import ModelManager

    models = ModelManager("cpu", torch.float32)
    resident, _ = models.ensure(str(tiny_dir))
    lone = _names_file(tmp_path / "flux1-schnell.safetensors", _flux_names(guidance=False))
    with pytest.raises(ModelLoadError, match="holds only the Flux schnell transformer"):
        models.ensure(str(lone))
    assert models.loaded is resident  # never unloaded, so not loaded again either
    models.unload()


@pytest.fixture(scope="module")
def flux_files(tmp_path_factory):
    """A tiny FLUX.1-dev diffusers folder without its transformer weights, and next to it the same
    other transformer as .safetensors and as GGUF (Q8_0 + F16)."""
    from tests.dit_models import build_tiny_flux, save_transformer_file, save_transformer_gguf

    root = tmp_path_factory.mktemp("flux-files")
    folder = save_tiny_flux(root / "FLUX.1-dev")
    for weights in (folder / "transformer").glob("*.safetensors"):
        weights.unlink()  # the folder gives the text encoders / VAE; the file the transformer
    save_tiny_flux(root / "A-FLUX.1-schnell", dev=False)  # listed first, but does not fit a dev file
    transformer = build_tiny_flux(seed=3).transformer
    return {
        "safetensors": save_transformer_file(transformer, root / "flux1-dev.safetensors"),
        "gguf": save_transformer_gguf(transformer, root / "flux1-dev-Q8_0.gguf"),
        "transformer": transformer,
    }


def test_gguf_and_safetensors_transformers_load_with_the_folder_parts(flux_files, monkeypatch):
    import socket

    import torch

    from studio.engine.loading import load_pipeline

    def refuse(*_a, **_k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)

    expected = flux_files["transformer"].state_dict()
    for kind in ("safetensors", "gguf"):
        loaded = load_pipeline(str(flux_files[kind]), device="cpu", dtype=torch.float32)
        pipe = loaded.pipe
        assert (loaded.family, loaded.name) == ("flux", flux_files[kind].stem)
        assert pipe.transformer.config.guidance_embeds  # the dev folder was chosen over schnell
        weights = dict(pipe.transformer.named_parameters())
        q = weights["transformer_blocks.0.attn.to_q.weight"]
        if kind == "gguf":
            from diffusers.quantizers.gguf.utils import dequantize_gguf_tensor

            assert type(q).__name__ == "GGUFParameter" and int(q.quant_type) == 8  # Q8_0, kept quantised
            q = dequantize_gguf_tensor(q)
        want = expected["transformer_blocks.0.attn.to_q.weight"]
        assert torch.allclose(q.float(), want, atol=0.02 * float(want.abs().max()))


def test_gguf_transformer_runs_through_the_engine(make_engine, flux_files):
    eng, rec = make_engine()
    job = eng.submit(_request(flux_files["gguf"]))
    end = rec.wait_for(job, 300)
    assert isinstance(end, Finished), end
    assert end.images[0].size == (TINY_SIZE, TINY_SIZE)
    assert len([s for s in _steps(rec, job) if s.preview is not None]) == 2
    source = _image()
    mask = Image.new("L", source.size, 0)
    mask.paste(255, (16, 16, 48, 48))
    for mode in (Mode.IMG2IMG, Mode.INPAINT):  # pipelines derived from a quantised transformer
        request = _request(flux_files["gguf"], mode=mode, init_image=source, mask=mask, strength=0.8)
        end = rec.wait_for(eng.submit(request), 300)
        assert isinstance(end, Finished), (mode, end)
    pipes = eng._models.pipelines()
    assert {type(p).__name__ for p in pipes} == {"FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline"}
    assert len({id(p.transformer) for p in pipes}) == 1  # one transformer, shared


def test_a_gguf_transformer_is_not_cast_to_bf16_on_a_bf16_cpu(flux_files, monkeypatch):
    import torch

    from studio.engine import device
    from studio.engine.models import ModelManager

    monkeypatch.setattr(device, "bf16_pays_off", lambda _params: True)  # as for a full-size model
    models = ModelManager("cpu", torch.float32, bf16_when_faster=True)
    loaded, _ = models.ensure(str(flux_files["gguf"]))
    assert models.dtype == torch.float32 and loaded.pipe.vae.dtype == torch.float32
    out = loaded.pipe(prompt="a cat", num_inference_steps=1, height=64, width=64, output_type="np")
    assert out.images.shape == (1, 64, 64, 3)
    models.unload()


def test_a_lora_on_a_gguf_transformer_is_refused_with_a_message(make_engine, flux_files, tmp_path):
    from tests.dit_models import save_flux_lora

    eng, rec = make_engine()
    lora = save_flux_lora(tmp_path / "loras")
    request = _request(
        flux_files["gguf"], prompt="a cat <lora:tiny-flux-lora:1>", lora_dirs=(str(lora.parent),)
    )
    end = rec.wait_for(eng.submit(request), 300)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT
    assert "GGUF-quantised" in end.message and "tiny-flux-lora" in end.message


def test_a_damaged_gguf_file_is_refused_with_a_message(tmp_path):
    from studio.engine.loading import ModelLoadError, load_pipeline

    (tmp_path / "broken.gguf").write_bytes(b"GGUF\x03\x00\x00\x00garbage")
    with pytest.raises(ModelLoadError, match="could not be read as a GGUF file"):
        load_pipeline(str(tmp_path / "broken.gguf"), device="cpu", dtype=None)


@pytest.mark.parametrize(
    ("variant", "params"),
    [("sd3-medium", 2_028_328_000), ("sd35-large", 8_056_627_520), ("flux-dev", 11_901_408_320)],
)
def test_shipped_transformer_configs_have_the_published_sizes(variant, params):
    import json

    import diffusers
    from accelerate import init_empty_weights

    from studio.engine.loading.infer import config_dir

    cfg = json.loads((config_dir(variant) / "transformer" / "config.json").read_text())
    with init_empty_weights():
        model = getattr(diffusers, cfg.pop("_class_name")).from_config(cfg)
    assert sum(p.numel() for p in model.parameters()) == params


def test_flux_from_the_offline_hf_cache_by_id_and_as_the_parts_of_a_transformer_file(
    tmp_path, monkeypatch, flux_files
):
    import shutil

    import torch

    from studio.engine.loading import load_pipeline

    repo = tmp_path / "hub" / "models--black-forest-labs--FLUX.1-dev"
    save_tiny_flux(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    by_id = load_pipeline("black-forest-labs/FLUX.1-dev", device="cpu", dtype=torch.float32)
    assert (by_id.family, by_id.name, type(by_id.pipe).__name__) == (
        "flux",
        "black-forest-labs/FLUX.1-dev",
        "FluxPipeline",
    )
    alone = (
        tmp_path / "downloads" / "flux1-dev.safetensors"
    )  # no folder next to it: the cache gives the parts
    alone.parent.mkdir()
    shutil.copy(flux_files["safetensors"], alone)
    loaded = load_pipeline(str(alone), device="cpu", dtype=torch.float32)
    assert (loaded.family, loaded.name) == ("flux", "flux1-dev")
    assert loaded.pipe.text_encoder_2 is not None and loaded.pipe.tokenizer_2 is not None


# --------------------------------------------------------------------------------- precision
def test_auto_precision_on_a_bf16_gpu_loads_dit_models_in_bf16(flux_dir, tiny_dir):
    import torch

    from studio.engine.models import ModelManager

    # where fp16 would be used (a CUDA GPU): SD3 / Flux in bf16, Stable Diffusion stays fp16
    models = ModelManager("cpu", torch.float16, dit_bf16=True)
    loaded, _ = models.ensure(str(flux_dir))
    assert loaded.pipe.transformer.dtype == torch.bfloat16 and models.dtype == torch.bfloat16
    loaded, _ = models.ensure(str(tiny_dir))
    assert loaded.pipe.unet.dtype == torch.float16 and models.dtype == torch.float16
    models.unload()
    off = ModelManager("cpu", torch.float16, dit_bf16=False)  # fp16 asked for explicitly: kept
    assert off.ensure(str(flux_dir))[0].pipe.transformer.dtype == torch.float16
    off.unload()


def test_bf16_for_dit_only_with_auto_precision_on_a_bf16_cuda_gpu(monkeypatch):
    import torch

    from studio.engine.device import auto_gpu_bf16_for_dit

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert auto_gpu_bf16_for_dit("cuda", "auto") and auto_gpu_bf16_for_dit("cuda:1", "Auto")
    assert not auto_gpu_bf16_for_dit("cuda", "fp16") and not auto_gpu_bf16_for_dit("cpu", "auto")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert not auto_gpu_bf16_for_dit("cuda", "auto")


def test_sd3_gguf_transformer_loads_with_its_folder_and_runs(tmp_path):
    import torch

    from studio.engine.loading import load_pipeline
    from tests.dit_models import save_transformer_gguf, sd3_transformer

    save_tiny_sd3(tmp_path / "stable-diffusion-3-medium-diffusers")
    path = save_transformer_gguf(sd3_transformer(seed=4), tmp_path / "sd3_medium-Q8_0.gguf", arch="sd3")
    loaded = load_pipeline(str(path), device="cpu", dtype=torch.float32)
    assert (loaded.family, type(loaded.pipe).__name__) == ("sd3", "StableDiffusion3Pipeline")
    kinds = {type(p).__name__ for p in loaded.pipe.transformer.parameters()}
    assert "GGUFParameter" in kinds
    out = loaded.pipe(prompt="a cat", num_inference_steps=1, height=64, width=64, output_type="np")
    assert out.images.shape == (1, 64, 64, 3) and np.isfinite(out.images).all()


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_deriving_img2img_and_inpaint_keeps_the_model_in_its_dtype(tiny_dir, flux_dir, dtype_name):
    import torch

    from studio.engine.dit import denoiser
    from studio.engine.models import ModelManager

    dtype = getattr(torch, dtype_name)
    for ref in (tiny_dir, flux_dir):
        models = ModelManager("cpu", dtype)
        models.ensure(str(ref))
        for mode in (Mode.IMG2IMG, Mode.INPAINT):
            models.pipeline_for(mode, "Euler")
        # diffusers' from_pipe casts to float32 unless told otherwise: the shared weights must not move
        assert {denoiser(p).dtype for p in models.pipelines()} == {dtype}
        assert {p.vae.dtype for p in models.pipelines()} == {dtype}
        models.unload()
