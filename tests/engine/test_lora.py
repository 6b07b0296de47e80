"""LoRA / LyCORIS (issue 13): applied for one job through diffusers' loaders, removed exactly after."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from studio.core.events import Failed, FailureKind, Finished
from studio.core.request import LoraRef
from studio.engine.lora import LoraError, ResolvedLora, applied_loras, lora_hash
from tests.engine.lora_files import diffusers_lora, kohya_lora


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("loras")
    return {
        "ink": kohya_lora(folder / "ink.safetensors", seed=1),
        "paper": kohya_lora(folder / "paper.safetensors", seed=3),
        "peft": diffusers_lora(folder / "peft.safetensors"),
        "xl": kohya_lora(folder / "xl.safetensors", cross_width=2048),
    }


@pytest.fixture(scope="module")
def pipe():
    from tests.tiny_model import build_tiny_pipeline

    return build_tiny_pipeline()


def _run(pipe) -> np.ndarray:
    import torch

    out = pipe(
        "a red apple",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    return out.images


def _lora(path: Path, weight: float = 1.0) -> ResolvedLora:
    return ResolvedLora(path.stem, path, weight)


@pytest.mark.parametrize("fmt", ["ink", "peft"])
def test_a_lora_changes_the_pixels_and_removing_it_gives_the_base_pixels_exactly(pipe, files, fmt):
    base = _run(pipe)
    with applied_loras(pipe, "sd1", [_lora(files[fmt])]):
        on = _run(pipe)
    after = _run(pipe)
    assert np.abs(on - base).max() > 0.01  # kohya keys and peft keys both reach the UNet
    assert np.array_equal(after, base)
    assert not any("lora" in n for n, _ in pipe.unet.named_parameters())


def test_two_loras_with_weights_and_weight_zero_equals_none(pipe, files):
    base = _run(pipe)
    with applied_loras(pipe, "sd1", [_lora(files["ink"], 0.0)]):
        assert np.array_equal(_run(pipe), base)
    with applied_loras(pipe, "sd1", [_lora(files["ink"], 0.7)]):
        ink = _run(pipe)
    with applied_loras(pipe, "sd1", [_lora(files["ink"], 0.7), _lora(files["paper"], 0.0)]):
        np.testing.assert_allclose(_run(pipe), ink, atol=1e-5)
    with applied_loras(pipe, "sd1", [_lora(files["ink"], 0.7), _lora(files["paper"], 0.5)]) as used:
        both = _run(pipe)
    assert np.abs(both - ink).max() > 0.01
    assert [name for name, _ in used.hashes] == ["ink", "paper"]
    assert np.array_equal(_run(pipe), base)


def test_a_lora_for_another_family_is_refused_naming_both(pipe, files):
    base = _run(pipe)
    refused = pytest.raises(LoraError, match=r"made for SDXL models; the loaded model is SD 1\.x")
    with refused, applied_loras(pipe, "sd1", [_lora(files["ink"]), _lora(files["xl"])]):
        pass
    assert np.array_equal(_run(pipe), base)


def test_a_lora_that_fails_to_load_leaves_the_model_clean(pipe, files, tmp_path):
    import torch
    from safetensors.torch import save_file

    odd = tmp_path / "odd.safetensors"
    save_file({"something_else.weight": torch.zeros(2, 2)}, str(odd))
    base = _run(pipe)
    with pytest.raises(LoraError, match="odd"), applied_loras(pipe, "sd1", [_lora(files["ink"]), _lora(odd)]):
        pass
    assert np.array_equal(_run(pipe), base)


def test_lora_hash_is_a1111s_hash_of_the_tensor_data(files):
    data = files["ink"].read_bytes()
    header = int.from_bytes(data[:8], "little")
    assert lora_hash(files["ink"]) == hashlib.sha256(data[8 + header :]).hexdigest()[:12]


# ------------------------------------------------------------------------------------- engine
def test_engine_applies_request_and_prompt_loras_records_hashes_and_removes_them(
    shared_engine, request_for, files
):
    engine, rec = shared_engine
    folder = str(files["ink"].parent)
    base = rec.wait_for(engine.submit(request_for()))
    with_lora = rec.wait_for(
        engine.submit(
            request_for(
                prompt="a red apple <lora:paper:0.5>", loras=(LoraRef("ink", 0.8),), lora_dirs=(folder,)
            )
        )
    )
    again = rec.wait_for(engine.submit(request_for()))
    assert isinstance(base, Finished) and isinstance(with_lora, Finished) and isinstance(again, Finished)
    pixels = [np.asarray(e.images[0]) for e in (base, with_lora, again)]
    assert not np.array_equal(pixels[1], pixels[0])
    assert np.array_equal(pixels[2], pixels[0])
    expected = f"ink: {lora_hash(files['ink'])}, paper: {lora_hash(files['paper'])}"
    assert with_lora.parameters[0]["Lora hashes"] == expected
    assert again.parameters[0].get("Lora hashes") is None


def test_engine_refuses_a_pickled_or_missing_lora_with_a_message(shared_engine, request_for, tmp_path):
    engine, rec = shared_engine
    (tmp_path / "old.ckpt").write_bytes(b"\x80\x04not really")
    pickled = rec.wait_for(engine.submit(request_for(loras=(LoraRef("old"),), lora_dirs=(str(tmp_path),))))
    assert isinstance(pickled, Failed) and pickled.kind is FailureKind.INPUT
    assert "old.ckpt is a pickle file" in pickled.message
    missing = rec.wait_for(engine.submit(request_for(loras=(LoraRef("nope"),), lora_dirs=(str(tmp_path),))))
    assert isinstance(missing, Failed) and missing.kind is FailureKind.INPUT
    assert "'nope' was not found" in missing.message
