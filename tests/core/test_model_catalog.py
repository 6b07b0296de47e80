"""model_catalog: what is listed, in which order, and what is skipped (no torch needed)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from studio.core.model_catalog import ModelEntry, find_cached_hub_models, find_models


def _safetensors(path: Path, keys: list[str]) -> Path:
    header = {
        k: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, k in enumerate(keys)
    }
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4 * len(keys))
    return path


def _diffusers(folder: Path) -> Path:
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"x")
    return folder


SD_KEYS = ["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.encoder.conv_in.weight"]


@pytest.fixture
def builtin(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_RESOURCES_DIR", str(tmp_path / "resources"))
    return _diffusers(tmp_path / "resources" / "models" / "studio-mini")


@pytest.fixture
def hub(tmp_path):
    cache = tmp_path / "hub"
    for repo, complete in (("models--org--sd-model", True), ("models--org--half-downloaded", False)):
        snap = cache / repo / "snapshots" / "abc123"
        (cache / repo / "refs").mkdir(parents=True)
        (cache / repo / "refs" / "main").write_text("abc123")
        snap.mkdir(parents=True)
        (snap / "model_index.json").write_text("{}")
        if complete:
            (snap / "unet").mkdir()
            (snap / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_text("x")
    (cache / "models--org--bert" / "snapshots" / "abc").mkdir(parents=True)
    return cache


def test_lists_builtin_first_then_folders_files_and_hub(tmp_path, builtin, hub):
    models = tmp_path / "models"
    _diffusers(models / "b-folder")
    _safetensors(models / "A-model.safetensors", SD_KEYS)
    _safetensors(models / "Stable-diffusion" / "c-model.safetensors", SD_KEYS)
    (models / "old.ckpt").write_bytes(b"pickle")
    (models / "notes.txt").write_text("hello")
    (models / "style.yaml").write_text("model: {}")
    found = find_models([models], hub_cache=hub)
    assert found == [
        ModelEntry("Built-in (studio-mini)", "", "builtin"),
        ModelEntry("A-model", str(models / "A-model.safetensors"), "checkpoint"),
        ModelEntry("b-folder", str(models / "b-folder"), "diffusers"),
        ModelEntry("old", str(models / "old.ckpt"), "checkpoint"),
        ModelEntry("c-model", str(models / "Stable-diffusion" / "c-model.safetensors"), "checkpoint"),
        ModelEntry("org/sd-model", "org/sd-model", "hub"),
    ]


def test_skips_loras_vaes_and_files_inside_diffusers_folders(tmp_path, builtin):
    models = tmp_path / "models"
    _safetensors(models / "lora.safetensors", ["lora_unet_x.lora_down.weight"])
    _safetensors(models / "vae.safetensors", ["encoder.conv_in.weight", "decoder.conv_out.weight"])
    _diffusers(models / "folder")
    found = find_models([models], include_hub=False)
    assert [e.kind for e in found] == ["builtin", "diffusers"]


def test_unreadable_safetensors_stays_listed_so_loading_can_explain(tmp_path, builtin):
    models = tmp_path / "models"
    models.mkdir()
    (models / "broken.safetensors").write_bytes(b"")
    assert [e.name for e in find_models([models], include_hub=False)] == ["Built-in (studio-mini)", "broken"]


def test_dir_that_is_a_model_and_duplicates(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_RESOURCES_DIR", str(tmp_path / "no-resources"))
    folder = _diffusers(tmp_path / "one")
    found = find_models([folder, folder, tmp_path / "missing"], include_hub=False)
    assert found == [ModelEntry("one", str(folder), "diffusers")]


def test_hub_cache_from_environment(monkeypatch, hub):
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert [e.ref for e in find_cached_hub_models()] == ["org/sd-model"]


def test_catalog_imports_no_torch():
    code = "import sys, studio.core.model_catalog; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
