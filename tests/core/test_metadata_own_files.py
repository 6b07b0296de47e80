"""Metadata for the artist's own files (issue 13): Clip skip, Lora hashes, TI hashes, VAE, and what is
not applied is said."""

from __future__ import annotations

from studio.core import metadata as md
from studio.core.a1111_text import format_a1111
from studio.core.request import GenerationRequest, LoraRef


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
