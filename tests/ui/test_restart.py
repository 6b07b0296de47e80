"""What the artist saved survives closing the app: a preset saved through the window is there, and
applies, in a window built afresh (as `studio` builds it) from the same user folders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from studio.core.events import Event
from studio.core.paths import user_dirs as current_user_dirs
from tests.ui.fakes import FakeEngine


def _fresh_window(qtbot: Any, answers: Any) -> Any:
    from studio.app import build_window

    def factory(_settings: Any) -> Callable[[Callable[[Event], None]], FakeEngine]:
        return lambda publish: FakeEngine(publish)

    win = build_window(QApplication.instance(), current_user_dirs(), factory)
    win.prompts = answers
    win.presets_panel.prompts = answers
    qtbot.addWidget(win)
    win.show()
    return win


def test_preset_round_trips_across_a_restart(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    first = _fresh_window(qtbot, answers)
    first.vm.set("prompt", "ink drawing of a heron")
    first.vm.set("steps", 17)
    first.vm.set("scheduler", "Euler a")
    answers.texts = ["Herons"]
    first.presets_panel.menu.findChild(QAction, "preset_save").trigger()
    first.close()

    second = _fresh_window(qtbot, answers)
    combo = second.presets_panel.combo
    names = [combo.itemData(i) for i in range(combo.count())]
    assert "Herons" in names
    second.vm.set("prompt", "something else")
    second.vm.set("steps", 40)
    combo.setCurrentIndex(names.index("Herons"))
    second.presets_panel.apply_button.click()
    assert (second.vm.prompt, second.vm.steps, second.vm.scheduler) == ("something else", 17, "Euler a")
    # the preset's prompt is a style, applied when generating (the prompt box keeps the artist's text)
    assert second.generation.build_request().prompt == "something else, ink drawing of a heron"
    second.close()
