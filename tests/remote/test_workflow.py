"""A request and its plan -> ComfyUI's API graph, per mode; and the pixels around it (`images`)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.control import ControlUnit
from studio.core.plan import plan
from studio.core.request import (
    GenerationRequest,
    HiresOptions,
    LoraRef,
    MaskOptions,
    Mode,
    OutpaintOptions,
    check_request,
)
from studio.remote import images, workflow
from studio.remote.errors import Unsupported

CKPT = "sd15-random.safetensors"


def _image(size: tuple[int, int] = (64, 64), seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _mask(size: tuple[int, int] = (64, 64)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, (16, 16, 48, 48))
    return mask


def _build(request: GenerationRequest, upload: str = "up.png", **kwargs: object) -> workflow.Workflow:
    request = check_request(request)
    return workflow.build(request, plan(request), checkpoint=CKPT, upload=upload, **kwargs)  # type: ignore[arg-type]


def _classes(graph: workflow.Graph) -> dict[str, str]:
    return {node_id: node["class_type"] for node_id, node in graph.items()}


def _check_links(graph: workflow.Graph) -> None:
    """Every link names an existing node (what ComfyUI validates first)."""
    for node in graph.values():
        for value in node["inputs"].values():
            if isinstance(value, list):
                assert value[0] in graph and isinstance(value[1], int)


def test_txt2img_graph() -> None:
    request = GenerationRequest(prompt="a cat", negative_prompt="blurry", steps=12, guidance=5.5, seed=7,
                                width=96, height=64, scheduler="DPM++ 2M Karras")  # fmt: skip
    flow = _build(request, upload="")
    graph = flow.graph
    _check_links(graph)
    assert sorted(_classes(graph).values()) == sorted(
        [
            "CheckpointLoaderSimple",
            "CLIPTextEncode",
            "CLIPTextEncode",
            "EmptyLatentImage",
            "KSamplerAdvanced",
            "VAEDecode",
            "PreviewImage",
        ]  # fmt: skip
    )
    assert graph["ckpt"]["inputs"]["ckpt_name"] == CKPT
    assert graph["pos"]["inputs"]["text"] == "a cat" and graph["neg"]["inputs"]["text"] == "blurry"
    assert graph["latent_0"]["inputs"] == {"width": 96, "height": 64, "batch_size": 1}
    sampler = graph["sample_0"]["inputs"]
    assert (sampler["noise_seed"], sampler["steps"], sampler["cfg"]) == (7, 12, 5.5)
    assert (sampler["sampler_name"], sampler["scheduler"]) == ("dpmpp_2m", "karras")
    assert (sampler["start_at_step"], sampler["end_at_step"]) == (0, 12)
    assert flow.chains == (workflow.Chain(0, 7, "sample_0", "out_0"),)


def test_batch_makes_one_sampler_per_seed_and_a_resubmission_only_the_missing() -> None:
    request = GenerationRequest(prompt="x", seed=2**32 - 2, batch=3, width=64, height=64)
    flow = _build(request, upload="")
    seeds = [flow.graph[c.sampler]["inputs"]["noise_seed"] for c in flow.chains]
    assert seeds == [2**32 - 2, 2**32 - 1, 0]  # seed + i, wrapping, as the local engine does
    assert len({flow.graph[c.sampler]["inputs"]["latent_image"][0] for c in flow.chains}) == 3
    again = _build(request, upload="", indices=(2,))
    assert [c.index for c in again.chains] == [2] and "sample_0" not in again.graph


def test_clip_skip_adds_clip_set_last_layer() -> None:
    graph = _build(GenerationRequest(prompt="x", clip_skip=2, width=64, height=64), upload="").graph
    assert graph["clip"]["inputs"] == {"clip": ["ckpt", 1], "stop_at_clip_layer": -2}
    assert graph["pos"]["inputs"]["clip"] == ["clip", 0] == graph["neg"]["inputs"]["clip"]
    assert "clip" not in _build(GenerationRequest(prompt="x", width=64, height=64), upload="").graph


def test_img2img_encodes_the_upload_and_runs_the_strength_steps_as_diffusers_does() -> None:
    request = GenerationRequest(
        mode=Mode.IMG2IMG, init_image=_image(), steps=20, strength=0.55, width=64, height=64
    )
    graph = _build(request).graph
    _check_links(graph)
    assert graph["load"] == {"class_type": "LoadImage", "inputs": {"image": "up.png"}}
    assert graph["enc"]["inputs"]["pixels"] == ["load", 0]
    sampler = graph["sample_0"]["inputs"]
    assert sampler["latent_image"] == ["enc", 0]
    assert sampler["end_at_step"] - sampler["start_at_step"] == int(20 * 0.55)  # 11 steps, from step 9
    assert "masked" not in graph and "latent_0" not in graph


@pytest.mark.parametrize("mode", [Mode.INPAINT, Mode.OUTPAINT])
def test_inpaint_and_outpaint_mask_the_latent_with_the_uploaded_mask(mode: Mode) -> None:
    request = GenerationRequest(
        mode=mode, init_image=_image(), mask=_mask() if mode is Mode.INPAINT else None,
        outpaint=OutpaintOptions(right=32), width=64, height=64, strength=1.0,
    )  # fmt: skip
    graph = _build(request).graph
    _check_links(graph)
    assert graph["masked"] == {
        "class_type": "SetLatentNoiseMask",
        "inputs": {"samples": ["enc", 0], "mask": ["load", 1]},
    }
    assert graph["sample_0"]["inputs"]["latent_image"] == ["masked", 0]


def test_a_mode_with_an_image_needs_its_upload() -> None:
    with pytest.raises(ValueError, match="needs its uploaded image"):
        _build(GenerationRequest(mode=Mode.IMG2IMG, init_image=_image(), width=64, height=64), upload="")


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (
            {"controls": (ControlUnit(model="cn.safetensors", image=Image.new("RGB", (64, 64))),)},
            "control units",
        ),
        ({"loras": (LoraRef("ink"),)}, "LoRAs"),
        ({"prompt": "a cat <lora:ink:0.5>"}, "LoRAs"),
        ({"hires": HiresOptions(enabled=True)}, "the hires fix"),
        ({"vae": "/models/vae.safetensors"}, "a VAE override"),
        ({"scheduler": "PNDM"}, "no ComfyUI equivalent"),
    ],
)
def test_what_the_workflow_cannot_run_is_named_not_ignored(changes: dict[str, object], named: str) -> None:
    request = GenerationRequest(width=64, height=64).replace(**changes)
    with pytest.raises(Unsupported, match=named) as info:
        workflow.check_supported(request)
    assert info.value.kind.value == "input"


def test_model_label_is_the_checkpoint_stem() -> None:
    assert workflow.model_label("sd15/dreamy v2.safetensors") == "dreamy v2"
    assert workflow.model_label("sub\\model.ckpt") == "model"


# ---- images: through Studio's plan ---------------------------------------------------------------


def test_inpaint_inputs_are_the_plans_region_and_results_keep_unmasked_pixels_exact() -> None:
    init = _image((80, 64))
    request = check_request(
        GenerationRequest(
            mode=Mode.INPAINT,
            init_image=init,
            mask=_mask((80, 64)),
            width=64,
            height=64,
            mask_options=MaskOptions(feather=4, fill="noise"),
        )  # fmt: skip
    )
    the_plan = plan(request)
    sent = images.inputs(request, the_plan)
    assert sent.image is not None and sent.mask is not None
    assert sent.image.size == sent.mask.size == the_plan.generation_size
    assert sent.mask.mode == "L" and sent.mask.getextrema() == (0, 255)
    generated = Image.new("RGB", the_plan.generation_size, (255, 0, 255))
    result = images.composite(the_plan, generated)
    assert result.size == init.size
    keep = np.asarray(the_plan.mask) == 0
    assert np.array_equal(np.asarray(result)[keep], np.asarray(init)[keep])
    assert (np.asarray(result)[~keep] != np.asarray(init)[~keep]).any()


def test_outpaint_results_are_the_grown_image_with_the_original_kept_outside_the_overlap() -> None:
    init = _image((64, 64))
    request = check_request(
        GenerationRequest(
            mode=Mode.OUTPAINT,
            init_image=init,
            outpaint=OutpaintOptions(left=16, right=16, overlap=8),
            width=64,
            height=64,
        )  # fmt: skip
    )
    the_plan = plan(request)
    generated = Image.new("RGB", the_plan.generation_size, (0, 255, 0))
    result = images.composite(the_plan, generated)
    assert result.size == (96, 64) == the_plan.result_size
    inside = np.asarray(result)[:, 16 + 8 : 16 + 64 - 8]  # the original, beyond the overlap band
    assert np.array_equal(inside, np.asarray(init)[:, 8:-8])
    assert (np.asarray(result)[:, :8] == (0, 255, 0)).all()


def test_txt2img_and_img2img_send_what_the_plan_says() -> None:
    request = check_request(GenerationRequest(width=64, height=64))
    assert images.inputs(request, plan(request)) == images.Inputs()
    init = _image((100, 50))
    request = check_request(GenerationRequest(mode=Mode.IMG2IMG, init_image=init, width=64, height=32))
    sent = images.inputs(request, plan(request))
    assert sent.image is not None and sent.image.size == (64, 32) and sent.mask is None
