"""Prompt completion from the model's concept names (issue 17: "the app lists prompts that work"):
typing two letters of a phrase offers the names the model was trained on; choosing one replaces only
the phrase under the cursor. Through the real main window (Generate tab) with the FakeEngine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from studio.core.model_prompts import prompt_completions, prompts_that_work
from studio.ui.widgets.prompt_completer import current_phrase

NAMES = ["red heart", "cat face", "grinning cat", "kitty, twemoji style", "rocket"]


def _model_with_concepts(root: Path, names: object) -> Path:
    root.mkdir(parents=True)
    (root / "model_index.json").write_text("{}", encoding="utf-8")
    (root / "concepts.json").write_text(json.dumps({"names": names}), encoding="utf-8")
    return root


def test_current_phrase_is_the_text_after_the_last_comma_or_line() -> None:
    assert current_phrase("a red he") == "a red he"
    assert current_phrase("rocket, gri") == "gri"
    assert current_phrase("rocket,\ncat") == "cat"
    assert current_phrase("rocket, ") == ""


def test_completions_come_from_concepts_json(tmp_path: Path) -> None:
    model = _model_with_concepts(tmp_path / "m", [*NAMES, "rocket", 7, "  "])
    assert prompt_completions(str(model)) == NAMES  # de-duplicated, non-strings and blanks dropped


def test_a_broken_concepts_file_falls_back_without_failing(tmp_path: Path) -> None:
    model = tmp_path / "m"
    model.mkdir()
    (model / "concepts.json").write_text("{not json", encoding="utf-8")
    assert prompt_completions(str(model)) == []
    (model / "concepts.json").write_text(json.dumps({"names": "rocket"}), encoding="utf-8")
    assert prompt_completions(str(model)) == []
    assert prompt_completions(str(tmp_path / "missing.safetensors")) == []


def test_the_built_in_model_offers_its_names() -> None:
    names = prompt_completions("")
    assert names  # concepts.json when the model ships one, else its "Prompts that work"
    assert set(prompts_that_work("")) <= set(names) or len(names) > 100


def test_typing_offers_the_model_names_and_choosing_replaces_the_phrase(
    window: Any, qtbot: Any, tmp_path: Path
) -> None:
    model = _model_with_concepts(tmp_path / "emoji-model", NAMES)
    window.vm.set("model", str(model))
    edit, completer = window.controls.prompt, window.controls.prompt_completer
    assert completer.names() == NAMES
    edit.setFocus()
    qtbot.keyClicks(edit, "rocket, ca")
    assert completer.popup_visible()
    assert completer.suggestions() == ["cat face", "grinning cat"]  # matched anywhere in the name
    qtbot.keyClick(completer.popup, Qt.Key.Key_Down)  # the first is highlighted: Down goes to the second
    qtbot.keyClick(completer.popup, Qt.Key.Key_Return)
    assert edit.toPlainText() == "rocket, grinning cat"
    assert window.vm.prompt == "rocket, grinning cat"  # the request gets it like typed text
    assert not completer.popup_visible()


@pytest.mark.parametrize("key", [Qt.Key.Key_Return, Qt.Key.Key_Tab])
def test_enter_or_tab_takes_the_highlighted_first_name(
    window: Any, qtbot: Any, tmp_path: Path, key: Qt.Key
) -> None:
    """The list opens with its first name highlighted, so Enter / Tab choose it (they used to close
    the list and do nothing: no name, no new line)."""
    window.vm.set("model", str(_model_with_concepts(tmp_path / "m", NAMES)))
    edit, completer = window.controls.prompt, window.controls.prompt_completer
    edit.setFocus()
    qtbot.keyClicks(edit, "rocket, hea")
    assert completer.popup.currentIndex().data() == "red heart"
    qtbot.keyClick(completer.popup, key)
    assert edit.toPlainText() == "rocket, red heart"
    assert not completer.popup_visible()


def test_escape_closes_the_list_and_keeps_the_typed_text(window: Any, qtbot: Any, tmp_path: Path) -> None:
    window.vm.set("model", str(_model_with_concepts(tmp_path / "m", NAMES)))
    edit, completer = window.controls.prompt, window.controls.prompt_completer
    edit.setFocus()
    qtbot.keyClicks(edit, "hea")
    assert completer.suggestions() == ["red heart"]
    qtbot.keyClick(completer.popup, Qt.Key.Key_Escape)
    assert not completer.popup_visible()
    assert edit.toPlainText() == "hea"


def test_a_model_without_names_offers_nothing(window: Any, qtbot: Any, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    window.vm.set("model", str(plain))
    edit, completer = window.controls.prompt, window.controls.prompt_completer
    edit.setFocus()
    qtbot.keyClicks(edit, "cat")
    assert not completer.popup_visible()
    assert edit.toPlainText() == "cat"


def test_the_canvas_prompt_completes_from_the_shared_model(qtbot: Any, tmp_path: Path) -> None:
    from studio.core.request import GenerationRequest
    from studio.ui.canvas.gen_panel import CanvasGenPanel

    panel = CanvasGenPanel()
    qtbot.addWidget(panel)
    panel.show_shared(GenerationRequest(model=str(_model_with_concepts(tmp_path / "m", NAMES))))
    assert panel.prompt_completer.names() == NAMES
    panel.show_shared(GenerationRequest(model=str(tmp_path / "other.safetensors")))
    assert panel.prompt_completer.names() == []
