"""Control units in presets and settings, and control models in their folders (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from studio.core.control import ControlKind, ControlMode, ControlUnit
from studio.core.paths import UserDirs
from studio.core.presets import Preset, PresetStore
from studio.core.request import GenerationRequest
from studio.core.settings import Settings, control_folders, load_settings, save_settings
from studio.core.user_files import find_control_models, guess_control_kind, without_named_file

SKETCH = ControlUnit(
    model="/models/control_sd15_canny.safetensors",
    image=Image.new("RGB", (8, 8)),
    image_name="Sketch",
    preprocessor="canny",
    low_threshold=40,
    weight=0.7,
    end=0.6,
    mode=ControlMode.PROMPT,
)
REFERENCE = ControlUnit(kind=ControlKind.IP_ADAPTER, model="/models/ip-adapter_sd15.safetensors", weight=0.5)


def test_a_preset_keeps_controls_without_their_images(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "presets")
    store.save(Preset.capture("Sketchy", GenerationRequest(controls=(SKETCH, REFERENCE))))
    data = json.loads(next((tmp_path / "presets").glob("*.json")).read_text())
    assert [c["kind"] for c in data["settings"]["controls"]] == ["controlnet", "ip_adapter"]
    assert "image" not in data["settings"]["controls"][0]
    notes: list[str] = []
    applied = store.get("Sketchy").apply_to(GenerationRequest(), notes)
    assert applied.controls == (SKETCH, REFERENCE) and notes == []
    assert applied.controls[0].image is None and applied.controls[0].image_name == "Sketch"


def test_a_preset_without_controls_leaves_the_current_ones() -> None:
    preset = Preset.capture("Plain", GenerationRequest(steps=12))
    assert "controls" not in preset.fields
    assert preset.apply_to(GenerationRequest(controls=(SKETCH,))).controls == (SKETCH,)


def test_a_corrupt_control_entry_does_not_break_the_preset(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    good = {"kind": "controlnet", "model": "cn.safetensors", "weight": 0.9}
    settings = {"steps": 12, "controls": [{"kind": "hypernet", "model": 3}, good, "junk"]}
    (folder / "mixed.json").write_text(
        json.dumps({"schema_version": 1, "name": "Mixed", "settings": settings})
    )
    (folder / "wrong.json").write_text(
        json.dumps({"schema_version": 1, "name": "Wrong", "settings": {"steps": 9, "controls": "canny"}})
    )
    store = PresetStore(folder)
    notes: list[str] = []
    applied = store.get("Mixed").apply_to(GenerationRequest(), notes)
    assert applied.steps == 12
    assert applied.controls == (ControlUnit(model="cn.safetensors", weight=0.9),)
    assert len(notes) == 2 and all("could not be read" in n for n in notes)
    wrong = store.get("Wrong")  # a controls value that is no list is left out; the rest is used
    assert wrong is not None and wrong.apply_to(GenerationRequest()).steps == 9
    assert store.problems == []


def test_an_out_of_range_control_is_not_taken_over(tmp_path: Path) -> None:
    preset = Preset("Heavy", {"controls": [{"model": "cn.safetensors", "weight": 7}], "steps": 10})
    notes: list[str] = []
    applied = preset.apply_to(GenerationRequest(controls=(SKETCH,)), notes)
    assert applied.controls == (SKETCH,) and applied.steps == 10
    assert any("weight must be between 0 and 2" in n for n in notes), notes


def test_settings_keep_control_folders_encoder_and_remembered_units(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    settings = Settings(
        control_dirs=("/more/controls",),
        ip_image_encoder="/enc",
        last_request=GenerationRequest(controls=(SKETCH,)),
        canvas_request=GenerationRequest(controls=(REFERENCE,)),
    )
    save_settings(settings, path)
    loaded = load_settings(path)
    assert loaded.control_dirs == ("/more/controls",) and loaded.ip_image_encoder == "/enc"
    assert loaded.last_request is not None and loaded.last_request.controls == (SKETCH,)
    assert loaded.canvas_request is not None and loaded.canvas_request.controls == (REFERENCE,)
    assert loaded.problems == ()


def test_control_models_found_in_the_user_folder_and_the_settings_ones(tmp_path: Path) -> None:
    dirs = UserDirs(*(tmp_path / name for name in ("config", "data", "output", "logs", "models")))
    dirs.controls.mkdir(parents=True)
    (dirs.controls / "control_v11p_sd15_canny.safetensors").write_bytes(b"x")
    (dirs.controls / "ip-adapter_sd15.bin").write_bytes(b"x")
    (dirs.controls / "readme.txt").write_bytes(b"x")
    encoder = dirs.controls / "image_encoder"  # a CLIP vision folder: not a control model
    encoder.mkdir()
    (encoder / "config.json").write_text("{}")
    (encoder / "model.safetensors").write_bytes(b"x")
    extra = tmp_path / "extra"
    net = extra / "t2i-adapter-depth"
    net.mkdir(parents=True)
    (net / "config.json").write_text("{}")
    (net / "diffusion_pytorch_model.safetensors").write_bytes(b"x")
    folders = control_folders(Settings(control_dirs=(str(extra),)), dirs)
    assert folders == (str(dirs.controls), str(extra))
    found = find_control_models(folders)
    assert [p.name for p in found] == [
        "control_v11p_sd15_canny.safetensors",
        "ip-adapter_sd15.bin",
        "t2i-adapter-depth",
    ]
    assert [guess_control_kind(p) for p in found] == [
        ControlKind.CONTROLNET,
        ControlKind.IP_ADAPTER,
        ControlKind.T2I_ADAPTER,
    ]


def test_a_failure_naming_a_control_model_gives_the_request_without_it() -> None:
    request = GenerationRequest(controls=(SKETCH, REFERENCE))
    found = without_named_file("ip-adapter_sd15.safetensors is not an IP-Adapter for this model", request)
    assert found is not None
    name, retry = found
    assert name == "ip-adapter_sd15.safetensors" and retry.controls == (SKETCH,)
