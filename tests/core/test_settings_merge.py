"""Two Studio windows sharing one config keep each other's settings changes (merge on write)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from studio.core.request import GenerationRequest
from studio.core.settings import Settings, SettingsFile, load_settings, save_settings


def test_two_sessions_writing_different_keys_keep_both(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    save_settings(Settings(theme="light", last_request=GenerationRequest(prompt="cat", steps=20)), path)
    first, second = SettingsFile(path), SettingsFile(path)
    a, b = first.load(), second.load()
    first.save(dataclasses.replace(a, theme="dark"))
    assert b.last_request is not None
    second.save(dataclasses.replace(b, device="cpu", last_request=b.last_request.replace(steps=31)))
    first.save(dataclasses.replace(a, theme="dark", preview_interval=3))  # again: only its own changes
    merged = load_settings(path)
    assert (merged.theme, merged.device, merged.preview_interval) == ("dark", "cpu", 3)
    assert merged.last_request is not None
    assert (merged.last_request.steps, merged.last_request.prompt) == (31, "cat")


def test_the_last_change_of_a_key_wins_and_unknown_keys_survive(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "theme": "light", "from_the_future": {"x": 1}}))
    first, second = SettingsFile(path), SettingsFile(path)
    a, b = first.load(), second.load()
    first.save(dataclasses.replace(a, theme="dark"))
    second.save(dataclasses.replace(b, theme="system"))
    data = json.loads(path.read_text())
    assert data["theme"] == "system" and data["from_the_future"] == {"x": 1}


def test_a_session_without_a_file_writes_everything(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    session = SettingsFile(path)
    session.save(dataclasses.replace(session.load(), theme="dark"))
    assert load_settings(path).theme == "dark"
    path.unlink()  # deleted by hand meanwhile: the whole snapshot is written again
    session.save(dataclasses.replace(session.load(), device="cpu"))
    assert json.loads(path.read_text())["device"] == "cpu"


def test_a_newer_file_keeps_its_version_and_unreadable_values(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 99, "device": "quantum", "theme": "light"}))
    session = SettingsFile(path)
    session.save(dataclasses.replace(session.load(), theme="dark"))
    data = json.loads(path.read_text())
    assert (data["version"], data["device"], data["theme"]) == (99, "quantum", "dark")


def test_saving_over_a_file_that_became_deeply_nested_does_not_raise(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    session = SettingsFile(path)
    session.load()
    path.write_text("[" * 100_000 + "]" * 100_000)  # damaged meanwhile (another window, a disk error)
    session.save(dataclasses.replace(Settings(), theme="light"))
    assert load_settings(path).theme == "light"
