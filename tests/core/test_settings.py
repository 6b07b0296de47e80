"""Settings: round trip, damaged file set aside with defaults, bad values reported, schema versions
(older files migrated with a backup, newer files read as far as possible and never downgraded)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from studio.core import settings as settings_module
from studio.core.fileio import MigrationError, Migrations
from studio.core.request import GenerationRequest, MaskOptions, Mode, PreviewKind
from studio.core.settings import SETTINGS_VERSION, Settings, load_settings, save_settings


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


# ---- schema versions ----

NEWER = {
    "version": SETTINGS_VERSION + 1,
    "device": "cpu",
    "theme": "dark",
    "gallery": {"columns": 4},
    "last_request": {"prompt": "from the future", "steps": 12, "lora_stack": [{"name": "ink", "w": 0.5}]},
}


def _newer_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(NEWER, indent=2), encoding="utf-8")
    return path


def test_newer_file_is_read_as_far_as_possible_and_left_in_place(tmp_path: Path, caplog) -> None:
    path = _newer_file(tmp_path)
    before = path.read_bytes()
    s = load_settings(path)
    assert (s.device, s.theme, s.file_version) == ("cpu", "dark", SETTINGS_VERSION + 1)
    assert s.last_request is not None and (s.last_request.prompt, s.last_request.steps) == (
        "from the future",
        12,
    )
    assert not s.problems and s.extra == {"gallery": {"columns": 4}}
    assert "newer Studio" in caplog.text
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_saving_over_a_newer_file_keeps_its_version_and_unknown_keys(tmp_path: Path) -> None:
    path = _newer_file(tmp_path)
    s = load_settings(path)
    save_settings(dataclasses.replace(s, theme="light", last_request=GenerationRequest(prompt="mine")), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == SETTINGS_VERSION + 1  # not downgraded
    assert data["theme"] == "light" and data["gallery"] == {"columns": 4}
    assert data["last_request"]["prompt"] == "mine"
    assert data["last_request"]["lora_stack"] == [{"name": "ink", "w": 0.5}]  # nested unknown key kept
    assert load_settings(path).theme == "light"


def test_values_only_a_newer_version_knows_survive_a_save(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**NEWER, "device": "xpu", "precision": "fp8"}), encoding="utf-8")
    s = load_settings(path)
    assert (s.device, s.precision) == ("auto", "auto") and len(s.problems) == 2  # reported, defaults used
    save_settings(dataclasses.replace(s, precision="fp16"), path)  # the artist chose a precision here
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["device"], data["precision"], data["theme"]) == ("xpu", "fp16", "dark")


def test_file_without_version_is_the_first_format(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"theme": "dark"}', encoding="utf-8")
    s = load_settings(path)
    assert s.theme == "dark" and s.file_version == 1 and not s.problems
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def _next_format(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> Migrations:
    """Pretend this version writes format SETTINGS_VERSION + 1, where `dark_mode: true` became a theme."""
    migrations = Migrations("settings", SETTINGS_VERSION + 1, key="version")

    @migrations.migrator(SETTINGS_VERSION, SETTINGS_VERSION + 1)
    def _dark_mode_to_theme(data: dict) -> dict:
        data["theme"] = "dark" if data.pop("dark_mode") else "light"
        if fail:
            raise RuntimeError("boom")
        return data

    monkeypatch.setattr(settings_module, "MIGRATIONS", migrations)
    return migrations


def test_older_file_is_migrated_with_a_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _next_format(monkeypatch)
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"version": SETTINGS_VERSION, "dark_mode": True, "device": "cpu"}), encoding="utf-8"
    )
    original = path.read_bytes()
    s = load_settings(path)
    assert (s.theme, s.device, s.file_version) == ("dark", "cpu", SETTINGS_VERSION) and not s.problems
    backup = tmp_path / f"settings.json.v{SETTINGS_VERSION}-backup"
    assert backup.read_bytes() == original
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == SETTINGS_VERSION + 1 and "dark_mode" not in data
    assert load_settings(path).file_version == SETTINGS_VERSION + 1  # no second migration
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", backup.name]


def test_failing_migration_keeps_the_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _next_format(monkeypatch, fail=True)
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"version": SETTINGS_VERSION, "dark_mode": True, "device": "cpu"}), encoding="utf-8"
    )
    original = path.read_bytes()
    s = load_settings(path)
    assert s.device == "cpu" and s.theme == "system"  # read as far as possible, unmigrated
    assert len(s.problems) == 1 and "could not be updated" in s.problems[0] and "boom" in s.problems[0]
    assert path.read_bytes() == original
    assert (tmp_path / f"settings.json.v{SETTINGS_VERSION}-backup").read_bytes() == original
    load_settings(path)  # trying again does not pile up backups
    assert len(list(tmp_path.glob("settings.json.*"))) == 1


def test_migration_steps_chain_and_roll_back() -> None:
    migrations = Migrations("thing", 3)

    @migrations.migrator(1, 2)
    def _one(data: dict) -> dict:
        data["b"] = data.pop("a")
        return data

    @migrations.migrator(2, 3)
    def _two(data: dict) -> dict:
        data["c"] = data["b"] * 2
        if data["c"] > 10:
            raise ValueError("too big")
        return data

    original = {"version": 1, "a": 2, "nested": {"x": [1]}}
    assert migrations.migrate(original, 1) == {"version": 3, "b": 2, "c": 4, "nested": {"x": [1]}}
    assert migrations.migrate({"version": 2, "b": 1}, 2) == {"version": 3, "b": 1, "c": 2}
    big = {"version": 1, "a": 6}
    with pytest.raises(MigrationError, match="from version 2 to 3 failed: too big"):
        migrations.migrate(big, 1)
    assert big == {"version": 1, "a": 6} and original["a"] == 2  # the input is never changed
    with pytest.raises(MigrationError, match="from version 0"):
        migrations.migrate({}, 0)
    with pytest.raises(ValueError, match="already registered"):
        migrations.migrator(1, 3)
    with pytest.raises(ValueError, match="bad"):
        migrations.migrator(3, 4)


def test_the_canvas_panel_round_trips(tmp_path: Path) -> None:
    """The canvas's own generation settings (issue 12) are saved and read back beside last_request."""
    path = tmp_path / "settings.json"
    canvas = GenerationRequest(prompt="a door", strength=0.35, batch=2, seed=9, scheduler="Heun")
    save_settings(Settings(canvas_request=canvas, canvas_random_seed=False), path)
    back = load_settings(path)
    assert back.canvas_request is not None and back.canvas_request.prompt == "a door"
    assert (back.canvas_request.strength, back.canvas_request.batch) == (0.35, 2)
    assert (back.canvas_request.seed, back.canvas_request.scheduler) == (9, "Heun")
    assert back.canvas_random_seed is False and back.last_request is None and not back.problems
