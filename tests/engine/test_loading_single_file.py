"""Single-file LDM/A1111 checkpoints: offline loading, same images as the diffusers folder, and a
clear message for every kind of bad file."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from studio.engine.loading import ModelLoadError, load_pipeline
from tests.single_file import export_original_layout, original_state_dict
from tests.tiny_model import build_tiny_pipeline, save_tiny_diffusers


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    torch.set_num_threads(1)


@pytest.fixture
def no_network(monkeypatch):
    """Make the network unreachable, and fail the test if anything tried it (even if it caught the error)."""
    attempts: list[tuple] = []

    def refuse(*args, **_kwargs):
        attempts.append(args)
        raise OSError("network access attempted during model loading")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield
    assert attempts == [], f"network was attempted: {attempts}"


@pytest.fixture(scope="module")
def tiny_state():
    return original_state_dict(build_tiny_pipeline(seed=0))


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    return export_original_layout(
        build_tiny_pipeline(seed=0), tmp_path_factory.mktemp("sf") / "tiny.safetensors"
    )


def _load(path: Path):
    return load_pipeline(str(path), device="cpu", dtype=torch.float32)


def _image(pipe, seed: int = 7):
    gen = torch.Generator().manual_seed(seed)
    kw = {"num_inference_steps": 3, "height": 64, "width": 64, "output_type": "np"}
    return pipe("a lighthouse at dusk", negative_prompt="blurry", generator=gen, **kw).images


def test_single_file_offline_matches_diffusers_folder(tiny_file, tmp_path, no_network):
    folder = save_tiny_diffusers(tmp_path / "tiny-folder", seed=0)
    from_folder = _load(folder)
    from_file = _load(tiny_file)
    assert type(from_file.pipe).__name__ == "StableDiffusionPipeline"
    assert (from_file.family, from_file.inpaint, from_file.name, from_file.folder) == (
        "sd1",
        False,
        "tiny",
        None,
    )
    assert from_file.pipe.scheduler.config.prediction_type == "epsilon"
    # The shipped SD 1.5 scheduler (PNDM) differs from the tiny model's (DPM++): compare the weights'
    # output under one scheduler, as the engine swaps schedulers per request anyway.
    from_file.pipe.scheduler = type(from_folder.pipe.scheduler).from_config(from_folder.pipe.scheduler.config)
    # Same tokenizer on both sides: the comparison is about the weights (the loader's own tokenizer
    # is checked in test_single_file_tokenizer_is_real_clip).
    from_folder.pipe.tokenizer = from_file.pipe.tokenizer
    a, b = _image(from_folder.pipe), _image(from_file.pipe)
    assert abs(a - b).max() < 1e-4


def test_single_file_tokenizer_is_real_clip(tiny_file):
    tokenizer = _load(tiny_file).pipe.tokenizer
    assert tokenizer.model_max_length == 77 and len(tokenizer) == 49408
    ids = tokenizer("a castle", padding="max_length", max_length=77).input_ids
    assert ids[:4] == [49406, 320, 3540, 49407] and len(ids) == 77


def test_single_file_hash_is_a1111_model_hash(tiny_file):
    expected = hashlib.sha256(tiny_file.read_bytes()).hexdigest()[:10]
    assert _load(tiny_file).model_hash == expected


def test_inpaint_single_file_detected(tmp_path, no_network):
    path = export_original_layout(
        build_tiny_pipeline(seed=1, inpaint=True), tmp_path / "tiny-inpaint.safetensors"
    )
    model = _load(path)
    assert model.inpaint and model.family == "sd1"
    assert type(model.pipe).__name__ == "StableDiffusionInpaintPipeline"
    assert model.pipe.unet.config.in_channels == 9
    from PIL import Image

    image, mask = Image.new("RGB", (64, 64), "gray"), Image.new("L", (64, 64), 255)
    out = model.pipe("a cat", image=image, mask_image=mask, num_inference_steps=2, height=64, width=64)
    assert out.images[0].size == (64, 64)


def test_sidecar_yaml_selects_v_prediction(tmp_path, tiny_state):
    path = tmp_path / "vmodel.safetensors"
    save_file(tiny_state, str(path))
    path.with_suffix(".yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert _load(path).pipe.scheduler.config.prediction_type == "v_prediction"


def test_ckpt_loads_with_weights_only(tmp_path, tiny_state):
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": dict(tiny_state), "global_step": 1234}, str(path))
    model = _load(path)
    assert model.family == "sd1" and not model.inpaint and model.name == "old"


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_ckpt_with_pickled_code_is_refused(tmp_path, tiny_state):
    marker = tmp_path / "code-ran"
    path = tmp_path / "sneaky.ckpt"
    torch.save({"state_dict": dict(tiny_state), "payload": _Payload(marker)}, str(path))
    with pytest.raises(ModelLoadError, match="pickled Python code.*safetensors"):
        _load(path)
    assert not marker.exists()


def test_empty_file(tmp_path):
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"empty \(0 bytes\)"):
        _load(tmp_path / "empty.safetensors")


def test_truncated_file(tmp_path, tiny_file):
    data = tiny_file.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError, match="incomplete.*cut off"):
        _load(tmp_path / "cut.safetensors")


def test_truncated_inside_header(tmp_path, tiny_file):
    (tmp_path / "cut.safetensors").write_bytes(tiny_file.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="incomplete"):
        _load(tmp_path / "cut.safetensors")


def test_corrupt_header(tmp_path):
    body = b"{this is not json" + b" " * 20
    (tmp_path / "bad.safetensors").write_bytes(len(body).to_bytes(8, "little") + body + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="not a valid .safetensors file"):
        _load(tmp_path / "bad.safetensors")


def test_other_file_renamed(tmp_path):
    (tmp_path / "photo.safetensors").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)
    with pytest.raises(ModelLoadError, match="not a valid .safetensors file"):
        _load(tmp_path / "photo.safetensors")


def test_wrongly_shaped_weights(tmp_path, tiny_state):
    state = dict(tiny_state)
    key = "model.diffusion_model.middle_block.0.in_layers.2.weight"
    state[key] = torch.zeros(64, 64, 1, 1)
    save_file(state, str(tmp_path / "odd.safetensors"))
    with pytest.raises(ModelLoadError, match=r"wrong shapes.*mid_block.resnets.0.conv1"):
        _load(tmp_path / "odd.safetensors")


def test_text_encoder_of_wrong_width(tmp_path, tiny_state):
    state = {k: v for k, v in tiny_state.items() if not k.startswith("cond_stage_model.")}
    other = build_tiny_pipeline().text_encoder.config
    other.hidden_size, other.intermediate_size = 128, 256
    from transformers import CLIPTextModel

    for k, v in CLIPTextModel(other).state_dict().items():
        state["cond_stage_model.transformer.text_model." + k] = v
    save_file(state, str(tmp_path / "merged.safetensors"))
    with pytest.raises(ModelLoadError, match="wrong shapes.*expects text features of size 64.*gives 128"):
        _load(tmp_path / "merged.safetensors")


def test_missing_weights(tmp_path, tiny_state):
    state = {k: v for k, v in tiny_state.items() if "middle_block.1." not in k}
    save_file(state, str(tmp_path / "pruned.safetensors"))
    with pytest.raises(ModelLoadError, match="incomplete: .* missing"):
        _load(tmp_path / "pruned.safetensors")


def test_lora_is_named(tmp_path):
    lora = {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 32),
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight": torch.zeros(32, 4),
        "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": torch.tensor(4.0),
    }
    save_file(lora, str(tmp_path / "style.safetensors"))
    with pytest.raises(ModelLoadError, match="looks like a LoRA"):
        _load(tmp_path / "style.safetensors")


def test_random_tensors_are_not_a_model(tmp_path):
    save_file({"weight": torch.randn(3, 3), "bias": torch.randn(3)}, str(tmp_path / "random.safetensors"))
    with pytest.raises(ModelLoadError, match="not a Stable Diffusion checkpoint"):
        _load(tmp_path / "random.safetensors")


def test_unet_only_file(tmp_path, tiny_state):
    state = {k: v for k, v in tiny_state.items() if k.startswith("model.diffusion_model.")}
    save_file(state, str(tmp_path / "unet-only.safetensors"))
    with pytest.raises(ModelLoadError, match="no text encoder"):
        _load(tmp_path / "unet-only.safetensors")


def test_transformer_only_file_needs_its_other_parts(tmp_path):
    save_file(
        {"model.diffusion_model.double_blocks.0.img_mod.lin.weight": torch.zeros(2, 2)},
        str(tmp_path / "flux.safetensors"),
    )
    with pytest.raises(ModelLoadError, match="holds only the Flux schnell transformer"):
        _load(tmp_path / "flux.safetensors")


def test_unknown_extension(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"ONNX")
    with pytest.raises(ModelLoadError, match="not a model file Studio can open"):
        _load(tmp_path / "model.onnx")


def test_exported_file_is_ldm_layout(tiny_file):
    keys = set(load_file(str(tiny_file)))
    assert "model.diffusion_model.input_blocks.0.0.weight" in keys
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in keys
    assert "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight" in keys


def test_legacy_format_ckpt_loads(tmp_path, tiny_state):
    path = tmp_path / "legacy.ckpt"
    torch.save({"state_dict": dict(tiny_state)}, str(path), _use_new_zipfile_serialization=False)
    assert _load(path).family == "sd1"


def test_damaged_ckpt(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"PK\x03\x04 definitely not a zip" * 10)
    with pytest.raises(ModelLoadError, match="junk.ckpt could not be read"):
        _load(tmp_path / "junk.ckpt")


def test_empty_ckpt(tmp_path):
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        _load(tmp_path / "empty.ckpt")


def test_garbage_ckpt_is_damaged_not_code(tmp_path):
    (tmp_path / "noise.ckpt").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ModelLoadError, match="noise.ckpt could not be read"):
        _load(tmp_path / "noise.ckpt")


def test_out_of_memory_is_not_disguised(tmp_path, tiny_file, monkeypatch):
    """The engine recognises OOM (unloads, tells the artist): it must not become a 'bad file' error."""
    import studio.engine.loading.build as build

    def no_memory(*_a, **_k):
        raise MemoryError()

    monkeypatch.setattr(build, "_unet", no_memory)
    with pytest.raises(MemoryError):
        _load(tiny_file)


def test_inspect_checkpoint_reads_only_the_header(tiny_file):
    from studio.engine.loading import inspect_checkpoint

    info = inspect_checkpoint(tiny_file)
    assert (info.family, info.inpaint, info.prediction_type, info.config_name) == (
        "sd1",
        False,
        "epsilon",
        "sd15",
    )
    assert info.describe() == "Stable Diffusion 1.x"
