"""VAE override (issue 13): a single-file (LDM layout) or diffusers-folder VAE swapped in for one job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.events import Failed, FailureKind, Finished
from studio.engine.vae import VaeError, load_vae, vae_info, vae_override


@pytest.fixture(scope="module")
def vae_files(tmp_path_factory) -> dict[str, Path]:
    import torch
    from safetensors.torch import save_file

    from tests.single_file import original_state_dict
    from tests.tiny_model import build_tiny_pipeline

    folder = tmp_path_factory.mktemp("vaes")
    other = build_tiny_pipeline(seed=5)
    prefix = "first_stage_model."
    ldm = {k[len(prefix) :]: v for k, v in original_state_dict(other).items() if k.startswith(prefix)}
    save_file(ldm, str(folder / "other.safetensors"))
    other.vae.save_pretrained(str(folder / "other-folder"), safe_serialization=True)
    edited = dict(ldm)
    edited["decoder.conv_in.weight"] = torch.zeros(32, 8, 3, 3)  # inconsistent with the encoder
    save_file(edited, str(folder / "edited.safetensors"))
    from diffusers import AutoencoderKL

    three_levels = AutoencoderKL(  # downscales by 4, the model's latents are 8x smaller: does not fit
        block_out_channels=(32, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        layers_per_block=1,
        norm_num_groups=32,
    )
    three_levels.save_pretrained(str(folder / "wrong"), safe_serialization=True)
    (folder / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    (folder / "old.pt").write_bytes(b"\x80\x04pickle")
    return {
        "file": folder / "other.safetensors",
        "folder": folder / "other-folder",
        "wrong": folder / "wrong",
        "edited": folder / "edited.safetensors",
        "broken": folder / "broken.safetensors",
        "pickle": folder / "old.pt",
    }


def test_single_file_and_folder_give_the_same_vae(vae_files):
    import torch

    a = load_vae(vae_files["file"], "sd1", torch.float32, "cpu")
    b = load_vae(vae_files["folder"], "sd1", torch.float32, "cpu")
    for (name, x), (_, y) in zip(sorted(a.state_dict().items()), sorted(b.state_dict().items()), strict=True):
        assert torch.equal(x, y), name


def test_the_swap_changes_only_the_decode_and_restores_the_models_vae(vae_files):
    import torch

    from tests.tiny_model import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    own = pipe.vae

    def run(output_type: str) -> np.ndarray:
        gen = torch.Generator().manual_seed(0)
        out = pipe(
            "a red apple", num_inference_steps=2, height=64, width=64, generator=gen, output_type=output_type
        )
        return np.asarray(out.images)

    latents, image = run("latent"), run("np")
    with vae_override(str(vae_files["file"]), lambda: [pipe], "sd1", torch.float32, "cpu") as info:
        assert pipe.vae is not own
        swapped_latents, swapped = run("latent"), run("np")
    assert pipe.vae is own
    assert np.array_equal(swapped_latents, latents)  # denoising untouched
    assert np.abs(swapped - image).max() > 0.01  # the decode differs
    assert np.array_equal(run("np"), image)
    assert info is not None and info.name == "other.safetensors" and len(info.hash) == 10


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "wrong",
            "does not fit this model: it has 4 latent channels and scales by 4, the model needs 4 and 8",
        ),
        ("edited", "edited.safetensors cannot be used: .* wrong shapes"),
        ("broken", "broken.safetensors cannot be used"),
        ("pickle", "old.pt is not a .safetensors file"),
    ],
)
def test_a_bad_vae_is_refused_with_a_message(vae_files, key, message):
    import torch

    from tests.tiny_model import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    own = pipe.vae
    swap = vae_override(str(vae_files[key]), lambda: [pipe], "sd1", torch.float32, "cpu")
    with pytest.raises(VaeError, match=message), swap:
        pass
    assert pipe.vae is own


def test_engine_job_with_a_vae_records_it_and_the_next_job_uses_the_models_own(
    shared_engine, request_for, vae_files
):
    engine, rec = shared_engine
    base = rec.wait_for(engine.submit(request_for()))
    swapped = rec.wait_for(engine.submit(request_for(vae=str(vae_files["file"]))))
    again = rec.wait_for(engine.submit(request_for()))
    bad = rec.wait_for(engine.submit(request_for(vae=str(vae_files["wrong"]))))
    assert isinstance(base, Finished) and isinstance(swapped, Finished) and isinstance(again, Finished)
    assert not np.array_equal(np.asarray(swapped.images[0]), np.asarray(base.images[0]))
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(base.images[0]))
    info = vae_info(vae_files["file"])
    assert swapped.parameters[0]["VAE"] == "other.safetensors"
    assert swapped.parameters[0]["VAE hash"] == info.hash
    assert again.parameters[0].get("VAE") is None
    assert isinstance(bad, Failed) and bad.kind is FailureKind.INPUT and "does not fit" in bad.message
