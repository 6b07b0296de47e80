"""Presets through the UI: save, apply, rename, duplicate, delete, built-ins read-only, import/export,
A1111 styles.csv, and corrupt files reported to the artist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction


def _names(win: Any) -> list[str]:
    combo = win.presets_panel.combo
    return [combo.itemData(i) for i in range(combo.count())]


def _trigger(win: Any, name: str) -> None:
    action = win.presets_panel.menu.findChild(QAction, f"preset_{name}")
    assert action is not None, name
    action.trigger()


def test_save_apply_rename_duplicate_delete(window: Any, answers: Any) -> None:
    vm = window.vm
    vm.set("prompt", "ink drawing of a heron")
    vm.set("steps", 17)
    vm.set("scheduler", "Euler a")
    answers.texts = ["Herons"]
    _trigger(window, "save")
    assert "Herons" in _names(window) and window.presets_panel.selected_name() == "Herons"

    vm.set("prompt", "other")
    vm.set("steps", 40)
    window.presets_panel.apply_button.click()
    # the preset's prompt is a style: applied when generating, the prompt box keeps the artist's text
    assert (vm.prompt, vm.steps, vm.scheduler) == ("other", 17, "Euler a")
    assert [s.name for s in vm.styles] == ["Herons"]
    assert window.generation.build_request().prompt == "other, ink drawing of a heron"
    assert window.controls.steps.value() == 17

    answers.texts = ["Heron studies"]
    _trigger(window, "rename")
    assert "Heron studies" in _names(window) and "Herons" not in _names(window)

    answers.texts = ["Heron copy"]
    _trigger(window, "duplicate")
    assert {"Heron studies", "Heron copy"} <= set(_names(window))
    assert window.presets_panel.selected_name() == "Heron copy"

    answers.confirm_answer = False
    _trigger(window, "delete")
    assert "Heron copy" in _names(window)
    answers.confirm_answer = True
    _trigger(window, "delete")
    assert "Heron copy" not in _names(window)
    assert window.presets_panel.store.get("Heron studies") is not None


def test_builtin_is_read_only_but_can_be_duplicated(window: Any, answers: Any, tmp_path: Path) -> None:
    builtin_dir = tmp_path / "builtin_presets"
    (builtin_dir / "fast.json").write_text(
        json.dumps({"schema_version": 1, "name": "Fast draft", "settings": {"steps": 8}})
    )
    window.presets_panel.refresh(select="Fast draft")
    assert window.presets_panel.combo.currentText().endswith("(built-in)")
    answers.texts = ["Renamed"]
    _trigger(window, "rename")
    assert "cannot be renamed" in answers.infos[-1][1]
    _trigger(window, "delete")
    assert "cannot be deleted" in answers.infos[-1][1]
    assert "Fast draft" in _names(window)
    answers.texts = ["My fast draft"]
    _trigger(window, "duplicate")
    assert window.presets_panel.store.get("My fast draft").fields == {"steps": 8}


def test_export_and_import(window: Any, answers: Any, tmp_path: Path) -> None:
    window.vm.set("prompt", "exported")
    answers.texts = ["Exp"]
    _trigger(window, "save")
    target = tmp_path / "exp.json"
    answers.files = [str(target)]
    _trigger(window, "export")
    assert json.loads(target.read_text())["name"] == "Exp"
    answers.files = [str(target)]
    _trigger(window, "import")
    assert "Exp (imported)" in _names(window)


def test_styles_csv_import(window: Any, answers: Any, tmp_path: Path) -> None:
    csv_path = tmp_path / "styles.csv"
    csv_path.write_text(
        "name,prompt,negative_prompt\n"
        'Watercolor,"{prompt}, watercolor, soft edges","photo, 3d"\n'
        'Noir,"film noir still",\n',
        encoding="utf-8",
    )
    answers.files = [str(csv_path)]
    _trigger(window, "styles")
    assert {"Watercolor", "Noir"} <= set(_names(window))
    assert "Imported 2 style(s)" in answers.infos[-1][1]
    window.vm.set("prompt", "a cat")
    window.presets_panel.select("Watercolor")
    window.presets_panel.apply_selected()
    assert window.vm.prompt == "a cat"  # the style applies at generation time
    assert window.generation.build_request().prompt == "a cat, watercolor, soft edges"
    assert window.generation.build_request().negative_prompt == "photo, 3d"


def test_corrupt_preset_is_reported(window: Any, preset_store: Any) -> None:
    bad = Path(preset_store.user_dir) / "broken.json"
    bad.write_text("{ not json", encoding="utf-8")
    with_problems: list[list[str]] = []
    window.presets_panel.problems_found.connect(with_problems.append)
    window.presets_panel.refresh()
    assert with_problems and "broken.json" in with_problems[0][0]
    assert window.presets_panel.problem_box.isVisibleTo(window)
    assert "broken.json" in window.presets_panel.problem_label.text()
    assert not bad.exists() and list(bad.parent.glob("broken.json.broken-*"))
    window.presets_panel.dismiss_problems()
    assert not window.presets_panel.problem_box.isVisibleTo(window)


def test_save_over_existing_asks(window: Any, answers: Any) -> None:
    answers.texts = ["Same"]
    _trigger(window, "save")
    window.vm.set("steps", 44)
    answers.texts = ["Same"]
    answers.confirm_answer = False
    _trigger(window, "save")
    assert window.presets_panel.store.get("Same").fields["steps"] != 44
    answers.texts = ["Same"]
    answers.confirm_answer = True
    _trigger(window, "save")
    assert window.presets_panel.store.get("Same").fields["steps"] == 44
