"""core.few_step: distilled models and LoRAs detected by name and safetensors metadata, with the
sampler / steps / CFG each wants; ordinary files get no suggestion."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from studio.core.few_step import (
    FewStepSuggestion,
    read_safetensors_metadata,
    suggestion_for,
    suggestion_for_file,
)
from studio.core.schedulers import SCHEDULER_NAMES


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("lcm-lora-sdv1-5.safetensors", ("LCM", "LCM", 4, 1.5)),
        ("LCM_Dreamshaper_v7", ("LCM", "LCM", 4, 1.5)),
        ("latent-consistency/lcm-lora-sdxl", ("LCM", "LCM", 4, 1.5)),
        ("TCD-SD15-LoRA.safetensors", ("TCD", "TCD", 4, 1.0)),
        ("sdxl_lightning_4step_lora.safetensors", ("Lightning", "Euler SGM Uniform", 4, 1.0)),
        ("sdxl_lightning_8step.safetensors", ("Lightning", "Euler SGM Uniform", 8, 1.0)),
        ("sdxl_lightning_2step_unet.safetensors", ("Lightning", "Euler SGM Uniform", 2, 1.0)),
        ("sd_xl_turbo_1.0_fp16.safetensors", ("Turbo", "Euler a", 1, 1.0)),
        ("Hyper-SD15-8steps-lora.safetensors", ("Hyper", "DDIM", 8, 1.0)),
        ("Hyper-SDXL-1step-lora.safetensors", ("Hyper", "TCD", 1, 1.0)),
        ("Hyper-SDXL-8steps-CFG-lora.safetensors", ("Hyper", "DDIM", 8, 5.0)),
        ("sd3.5_large_turbo.safetensors", ("Turbo", "Euler", 4, 1.0)),
    ],
)
def test_names_give_the_distillations_settings(name, expected):
    found = suggestion_for(name)
    assert found is not None
    assert (found.kind, found.scheduler, found.steps, found.guidance) == expected
    assert found.scheduler in SCHEDULER_NAMES


@pytest.mark.parametrize(
    "name", ["v1-5-pruned-emaonly.safetensors", "add_detail.safetensors", "dreamshaper_8", "blcm_style", ""]
)
def test_ordinary_models_and_loras_get_no_suggestion(name):
    assert suggestion_for(name) is None


@pytest.mark.parametrize(
    ("metadata", "kind", "steps"),
    [
        ({"modelspec.title": "SDXL Lightning 4-step LoRA"}, "Lightning", 4),
        ({"ss_output_name": "my_lcm_lora"}, "LCM", 4),
        (
            {
                "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
                "modelspec.title": "Hyper-SD 2 steps",
            },
            "Hyper",
            2,
        ),
        ({"ss_training_comment": "distilled with TCD"}, "TCD", 4),
        ({"ss_network_module": "networks.lora", "ss_output_name": "watercolor"}, None, None),
        ({"ss_output_name": "storm", "modelspec.description": "lightning bolts, turbo jets"}, None, None),
    ],
)
def test_safetensors_metadata_names_the_distillation(tmp_path, metadata, kind, steps):
    path = tmp_path / "renamed.safetensors"  # the file name says nothing
    header = json.dumps(
        {"__metadata__": metadata, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    )
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + b"\0\0\0\0")
    assert read_safetensors_metadata(path) == metadata
    found = suggestion_for_file(path)
    assert (found.kind if found else None, found.steps if found else None) == (kind, steps)


def test_unreadable_files_have_no_metadata(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 20)
    assert read_safetensors_metadata(bad) == {} and suggestion_for_file(bad) is None
    assert read_safetensors_metadata(tmp_path / "missing.safetensors") == {}


def test_a_header_nested_too_deeply_has_no_metadata(tmp_path):
    """The hint reads LoRA headers on the GUI thread: a hostile header is {}, never a RecursionError."""
    deep = tmp_path / "deep_lcm.safetensors"
    raw = b"[" * 100_000
    deep.write_bytes(struct.pack("<Q", len(raw)) + raw)
    assert read_safetensors_metadata(deep) == {}
    assert suggestion_for_file(deep) == suggestion_for("deep_lcm.safetensors")  # the name still counts


def test_the_label_says_what_a_click_sets():
    assert FewStepSuggestion("LCM", "LCM", 4, 1.5).label == "Use 4 steps, LCM, CFG 1.5"


def test_step_counts_are_whole_numbers_not_the_end_of_a_longer_one(tmp_path):
    """A training comment's "1000 steps" is not a 0-step (so 1-step) Lightning model: only a number of
    one or two digits standing alone counts."""
    path = tmp_path / "sdxl_lightning_lora.safetensors"
    metadata = {"ss_training_comment": "trained for 1000 steps at lr 1e-4"}
    header = json.dumps({"__metadata__": metadata})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode())
    found = suggestion_for_file(path)
    assert found is not None and (found.kind, found.steps) == ("Lightning", 4)
    assert suggestion_for("Hyper-SD15-12steps-lora").steps == 12
    assert suggestion_for("lcm_sd15_v112steps").steps == 4  # "112" is not a step count


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("flux1-schnell-Q8_0.gguf", ("Flux schnell", "Euler", 4, 1.0)),
        ("flux1-dev.safetensors", ("Flux dev", "Euler", 28, 3.5)),
        ("/models/stable-diffusion-3.5-large", ("SD3", "Euler", 28, 4.5)),
        ("sd3_medium.safetensors", ("SD3", "Euler", 28, 4.5)),
    ],
)
def test_dit_families_get_their_own_sampler_and_guidance(name, expected):
    found = suggestion_for(name)
    assert found is not None
    assert (found.kind, found.scheduler, found.steps, found.guidance) == expected
    assert found.scheduler in SCHEDULER_NAMES
    assert found.reason.startswith(f"{Path(name).stem}: ")  # "flux1-dev: Flux dev wants Euler ..."
    assert "few-step model" not in found.reason
