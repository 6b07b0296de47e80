"""The model list shows SD3 / Flux transformer files (.safetensors and .gguf) and cached SD3 / Flux
repositories, still without their LoRAs and VAEs."""

from __future__ import annotations

from studio.core.model_catalog import find_cached_hub_models, find_models
from tests.core.test_model_catalog import _safetensors


def test_transformer_files_and_gguf_are_listed_loras_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RESOURCES_DIR", str(tmp_path / "no-resources"))
    models = tmp_path / "models"
    _safetensors(models / "flux1-dev.safetensors", ["double_blocks.0.img_attn.qkv.weight", "img_in.weight"])
    _safetensors(
        models / "sd3.5_large.safetensors", ["model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight"]
    )
    _safetensors(models / "diffusers-flux.safetensors", ["single_transformer_blocks.0.norm.linear.weight"])
    _safetensors(
        models / "flux-lora.safetensors", ["lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight"]
    )
    (models / "flux1-dev-Q8_0.gguf").write_bytes(b"GGUF")
    names = [e.name for e in find_models([models], include_hub=False)]
    assert names == ["diffusers-flux", "flux1-dev-Q8_0", "flux1-dev", "sd3.5_large"]


def test_cached_flux_repository_with_transformer_weights_is_listed(tmp_path):
    cache = tmp_path / "hub"
    snap = cache / "models--black-forest-labs--FLUX.1-dev" / "snapshots" / "abc"
    (cache / "models--black-forest-labs--FLUX.1-dev" / "refs").mkdir(parents=True)
    (cache / "models--black-forest-labs--FLUX.1-dev" / "refs" / "main").write_text("abc")
    (snap / "transformer").mkdir(parents=True)
    (snap / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    (snap / "transformer" / "diffusion_pytorch_model-00001-of-00003.safetensors").write_text("x")
    assert [e.ref for e in find_cached_hub_models(cache)] == ["black-forest-labs/FLUX.1-dev"]
