"""`studio FILE` (the desktop entry's `Exec=studio %F`) opens the file in the canvas: the real app,
started as a subprocess, reports what its canvas holds."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.launch import smoke_run


def _launch(tmp_path: Path, *files: Path) -> list[dict[str, object]]:
    done, reports = smoke_run(tmp_path, *files)
    assert "Traceback" not in done.stderr, done.stderr
    return reports


def test_a_file_on_the_command_line_opens_in_the_canvas(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    Image.new("RGB", (96, 40), (200, 30, 30)).save(photo)
    reports = _launch(tmp_path, photo)
    assert reports[-1]["canvas_path"] == str(photo)
    assert reports[-1]["canvas_size"] == [96, 40]


def test_a_missing_file_still_opens_the_window(tmp_path: Path) -> None:
    reports = _launch(tmp_path, tmp_path / "nowhere.png")
    assert reports[-1]["canvas_path"] is None
