"""Loading diffusers folders, the built-in model and Hub ids; never the network."""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

from studio.engine.loading import LoadedModel, ModelLoadError, load_pipeline
from tests.tiny_model import save_tiny_diffusers


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    return save_tiny_diffusers(tmp_path_factory.mktemp("models") / "tiny")


def _generate(model: LoadedModel, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return model.pipe("a red fox", num_inference_steps=2, generator=gen, output_type="np").images


def test_importing_loading_does_not_import_torch():
    import subprocess

    code = "import sys, studio.engine.loading, studio.engine.device; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())


def test_diffusers_folder_loads_and_generates(tiny_folder):
    model = load_pipeline(str(tiny_folder), device="cpu", dtype=torch.float32)
    assert type(model.pipe).__name__ == "StableDiffusionPipeline"
    assert (model.family, model.inpaint, model.name, model.folder) == ("sd1", False, "tiny", tiny_folder)
    assert len(model.model_hash) == 10 and int(model.model_hash, 16) >= 0
    assert model.pipe.safety_checker is None
    images = _generate(model)
    assert images.shape == (1, 64, 64, 3)


def test_folder_loads_in_dtype_without_deprecation_warnings(tiny_folder):
    """diffusers 0.42 deprecates ``torch_dtype=`` (a FutureWarning): the loader passes ``dtype=``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", DeprecationWarning)
        model = load_pipeline(str(tiny_folder), device="cpu", dtype=torch.bfloat16)
    assert model.pipe.unet.dtype == torch.bfloat16
    assert model.pipe.text_encoder.dtype == torch.bfloat16 and model.pipe.vae.dtype == torch.bfloat16


def test_folder_hash_is_cached(tiny_folder, tmp_path):
    first = load_pipeline(str(tiny_folder), device="cpu", dtype=torch.float32).model_hash
    cache = tmp_path / "data" / "cache" / "model_hashes.json"
    assert first in cache.read_text()
    assert load_pipeline(str(tiny_folder), device="cpu", dtype=torch.float32).model_hash == first


def test_inpaint_folder(tmp_path):
    folder = save_tiny_diffusers(tmp_path / "inp", inpaint=True)
    messages: list[str] = []
    model = load_pipeline(str(folder), device="cpu", dtype=torch.float32, progress=messages.append)
    assert type(model.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert model.inpaint and model.family == "sd1"
    assert messages


def test_builtin_model_missing_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_RESOURCES_DIR", str(tmp_path / "resources"))
    with pytest.raises(ModelLoadError, match="built-in model is not installed"):
        load_pipeline("", device="cpu", dtype=torch.float32)


def test_builtin_model_loads(monkeypatch, tmp_path, tiny_folder):
    import shutil

    shutil.copytree(tiny_folder, tmp_path / "resources" / "models" / "studio-mini")
    monkeypatch.setenv("STUDIO_RESOURCES_DIR", str(tmp_path / "resources"))
    model = load_pipeline("", device="cpu", dtype=torch.float32)
    assert model.ref == "" and "Built-in" in model.name


def test_folder_without_model_index(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(ModelLoadError, match="model_index.json is missing"):
        load_pipeline(str(tmp_path / "stuff"), device="cpu", dtype=torch.float32)


def test_folder_with_unsupported_pipeline(tmp_path):
    folder = tmp_path / "kandinsky"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "KandinskyV22Pipeline"}')
    with pytest.raises(ModelLoadError, match="does not support"):
        load_pipeline(str(folder), device="cpu", dtype=torch.float32)


def test_incomplete_folder(tmp_path, tiny_folder):
    import shutil

    folder = shutil.copytree(tiny_folder, tmp_path / "broken")
    shutil.rmtree(folder / "unet")
    with pytest.raises(ModelLoadError, match="incomplete or damaged"):
        load_pipeline(str(folder), device="cpu", dtype=torch.float32)


def test_missing_path(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_pipeline(str(tmp_path / "nope.safetensors"), device="cpu", dtype=torch.float32)


def test_hub_id_in_local_cache_loads_offline(monkeypatch, tmp_path, tiny_folder):
    import shutil
    import socket

    repo = tmp_path / "hub" / "models--someone--tiny-sd"
    shutil.copytree(tiny_folder, repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))

    def refuse(*_a, **_k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    model = load_pipeline("someone/tiny-sd", device="cpu", dtype=torch.float32)
    assert (model.name, model.ref, model.family) == ("someone/tiny-sd", "someone/tiny-sd", "sd1")


def test_hub_id_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelLoadError, match="not downloaded.*offline"):
        load_pipeline("runwayml/stable-diffusion-v1-5", device="cpu", dtype=torch.float32)


def test_folder_with_only_fp16_variant_files(tmp_path):
    from tests.tiny_model import build_tiny_pipeline

    folder = tmp_path / "variant"
    build_tiny_pipeline().save_pretrained(str(folder), safe_serialization=True, variant="fp16")
    assert (folder / "unet" / "diffusion_pytorch_model.fp16.safetensors").is_file()
    model = load_pipeline(str(folder), device="cpu", dtype=torch.float32)
    assert model.pipe.unet.dtype == torch.float32 and len(model.model_hash) == 10


def test_model_index_json_path_means_its_folder(tiny_folder):
    model = load_pipeline(str(tiny_folder / "model_index.json"), device="cpu", dtype=torch.float32)
    assert model.folder == tiny_folder
