"""Settings: round trip, damaged file set aside with defaults, bad values reported."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from studio.core.request import GenerationRequest, MaskOptions, Mode, PreviewKind
from studio.core.settings import Settings, load_settings, save_settings


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "settings.json")
    assert s == Settings() and not s.problems and s.previews_enabled


def test_round_trip_with_last_request(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    request = GenerationRequest(
        mode=Mode.INPAINT,
        prompt="a lake",
        steps=31,
        scheduler="Euler a",
        preview=PreviewKind.LATENT,
        mask_options=MaskOptions(grow=5, feather=2),
    )
    s = Settings(
        device="cpu",
        precision="bf16",
        preview_kind="latent",
        preview_interval=0,
        output_dir=str(tmp_path / "out"),
        model_dirs=("/models/a", "/models/b"),
        theme="dark",
        last_request=request,
    )
    save_settings(s, path)
    back = load_settings(path)
    assert back == s and not back.problems and not back.previews_enabled
    assert back.last_request.mask_options == MaskOptions(grow=5, feather=2)
    assert not list(path.parent.glob(".*.tmp"))


def test_paths_and_ui_replacements_are_saved_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    s = dataclasses.replace(Settings(), output_dir=tmp_path / "out", model_dirs=[tmp_path / "m"])  # type: ignore[arg-type]
    save_settings(s, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["output_dir"] == str(tmp_path / "out") and data["model_dirs"] == [str(tmp_path / "m")]
    assert load_settings(path).model_dirs == (str(tmp_path / "m"),)


def test_corrupt_file_is_set_aside_and_defaults_used(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"device": "cpu", oops', encoding="utf-8")
    s = load_settings(path)
    assert s == Settings()
    assert len(s.problems) == 1 and "moved aside" in s.problems[0]
    moved = list(tmp_path.glob("settings.json.broken-*"))
    assert len(moved) == 1 and moved[0].read_text(encoding="utf-8") == '{"device": "cpu", oops'
    assert not path.exists()
    save_settings(s, path)  # the next save writes a fresh file; the damaged one stays aside
    assert moved[0].exists() and load_settings(path) == Settings()


def test_non_object_json_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("[1, 2]", encoding="utf-8")
    assert load_settings(path).problems and list(tmp_path.glob("settings.json.broken-*"))


def test_bad_values_fall_back_individually_and_unknown_keys_survive(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps(
            {
                "device": "tpu",
                "precision": "fp16",
                "preview_interval": -2,
                "model_dirs": "not a list",
                "theme": "dark",
                "window_geometry": "abc",
                "last_request": {"steps": 999, "prompt": "kept", "scheduler": "Heun"},
            }
        ),
        encoding="utf-8",
    )
    s = load_settings(path)
    assert (s.device, s.precision, s.preview_interval, s.model_dirs, s.theme) == (
        "auto",
        "fp16",
        1,
        (),
        "dark",
    )
    assert s.last_request.prompt == "kept" and s.last_request.steps == 20
    assert s.last_request.scheduler == "Heun"
    assert len(s.problems) == 4
    assert any("tpu" in p for p in s.problems) and any("999" in p for p in s.problems)
    assert path.exists()  # readable file: not set aside
    save_settings(s, path)
    assert json.loads(path.read_text(encoding="utf-8"))["window_geometry"] == "abc"
