"""Metadata for the artist's own files (issue 13): Clip skip, Lora hashes, TI hashes, VAE, and what is
not applied is said."""

from __future__ import annotations

from studio.core import metadata as md
from studio.core.a1111_text import format_a1111, parse_a1111
from studio.core.request import GenerationRequest, HiresOptions, LoraRef


def test_build_parameters_writes_a1111_keys_for_own_files() -> None:
    request = GenerationRequest(prompt="a cat <lora:ink:0.6>", clip_skip=2)
    params = md.build_parameters(
        request,
        7,
        "model",
        "abcdef1234",
        lora_hashes={"ink": "7c6bad76eb54", "paper": "0123456789ab"},
        ti_hashes={"easynegative": "c74b4e810b03"},
        vae_name="vae-ft-mse-840000.safetensors",
        vae_hash="735e4c3a44",
    )
    assert params["Clip skip"] == 2
    assert params["Lora hashes"] == "ink: 7c6bad76eb54, paper: 0123456789ab"
    assert params["TI hashes"] == "easynegative: c74b4e810b03"
    assert params["VAE"] == "vae-ft-mse-840000.safetensors"
    assert params["VAE hash"] == "735e4c3a44"
    text = format_a1111(params)
    assert 'Lora hashes: "ink: 7c6bad76eb54, paper: 0123456789ab"' in text
    assert 'TI hashes: "easynegative: c74b4e810b03"' in text
    assert "Clip skip: 2," in text


def test_defaults_write_no_own_file_keys() -> None:
    params = md.build_parameters(GenerationRequest(prompt="a cat"), 7, "model", "abcdef1234")
    for key in ("Clip skip", "Lora hashes", "TI hashes", "VAE", "VAE hash"):
        assert key not in params


def test_picker_loras_become_prompt_tags_in_the_a1111_text_only() -> None:
    request = GenerationRequest(
        prompt="a cat <lora:ink:0.6>",
        loras=(LoraRef("ink", 0.6), LoraRef("/loras/paper_v2.safetensors", 0.25)),
    )
    params = md.build_parameters(request, 7, "model", "abcdef1234")
    assert params["prompt"] == "a cat <lora:ink:0.6>, <lora:paper_v2:0.25>"
    studio = params["studio"]
    assert isinstance(studio, dict)
    assert studio["request"]["prompt"] == "a cat <lora:ink:0.6>"


A1111_OWN_FILES = """a cat, <lora:ink:0.6>, (red apple:1.3), easynegative
Negative prompt: lowres
Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 12, Size: 512x768, \
Model hash: 6ce0161689, Model: v1-5, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000.safetensors, \
Denoising strength: 0.5, Clip skip: 2, Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent, \
ADetailer model: face_yolov8n.pt, Lora hashes: "ink: 7c6bad76eb54, gone: 0123456789ab", \
TI hashes: "easynegative: c74b4e810b03", Some future key: "x, y: z", Version: v1.9.4"""


def _meta(text: str) -> md.ImageMetadata:
    parsed = parse_a1111(text)
    prompt, negative = parsed.pop("prompt"), parsed.pop("negative_prompt")
    return md.ImageMetadata(prompt=prompt, negative_prompt=negative, settings=parsed, raw=text)


def test_reading_applies_clip_skip_vae_and_prompt_loras_and_lists_the_rest() -> None:
    notes: list[str] = []
    base = GenerationRequest(loras=(LoraRef("picker", 1.0),), strength=0.75)
    request = md.request_from_metadata(_meta(A1111_OWN_FILES), base, notes)
    assert request.clip_skip == 2
    assert request.vae == "vae-ft-mse-840000.safetensors"
    assert request.prompt.startswith("a cat, <lora:ink:0.6>")  # the tag applies when the job runs
    assert request.loras == ()  # the image's LoRAs are those of its prompt
    assert request.strength == 0.75  # txt2img: A1111's Denoising strength is the hires pass's
    assert request.hires == HiresOptions(enabled=True, scale=2.0, upscaler="Latent", steps=10, denoise=0.5)
    not_applied = [n for n in notes if n.startswith("not applied: Model")]
    assert not_applied == ["not applied: Model, ADetailer model, Some future key"]
    assert "not applied: LoRA gone (in Lora hashes but not in the prompt)" in notes


def test_a1111_text_round_trip_keeps_every_field() -> None:
    parsed = parse_a1111(A1111_OWN_FILES)
    assert parsed["Lora hashes"] == "ink: 7c6bad76eb54, gone: 0123456789ab"
    assert parsed["Some future key"] == "x, y: z"
    text = format_a1111(parsed)
    assert parse_a1111(text) == parsed
    assert format_a1111(parse_a1111(text)) == text


def test_studio_written_own_files_read_back_the_same() -> None:
    request = GenerationRequest(prompt="a cat <lora:ink:0.6>", clip_skip=3, vae="/v/vae.safetensors")
    params = md.build_parameters(request, 0, "model", "", lora_hashes={"ink": "7c6bad76eb54"})
    notes: list[str] = []
    back = md.request_from_metadata(_meta(format_a1111(params)), GenerationRequest(), notes)
    assert (back.prompt, back.clip_skip) == (request.prompt, 3)
    assert not [n for n in notes if "LoRA" in n]
