"""A prompt longer than the model reads: the job's `warning` signal, the Generate tab's banner (as a
warning, not an error) and status bar, with the scripted FakeEngine (it counts a word as a token)."""

from __future__ import annotations

from typing import Any

from studio.core.request import GenerationRequest
from studio.ui.bridge import EngineBridge
from tests.ui.conftest import engine_of
from tests.ui.fakes import FakeEngine

LONG = " ".join(["apple"] * 95)
WARNING = "The prompt is 95 tokens; this model reads the first 75 — the rest is ignored."


def test_the_job_signals_each_warning_after_started(qtbot: Any) -> None:
    engines: list[FakeEngine] = []
    bridge = EngineBridge(lambda publish: engines.append(FakeEngine(publish)) or engines[-1])
    job = bridge.submit(GenerationRequest(prompt=LONG, negative_prompt="blurry " * 80, width=64, height=64))
    seen: list[str] = []
    job.started.connect(lambda event: seen.append("started"))
    job.warning.connect(seen.append)
    job.step.connect(lambda event: seen.append("step") if "step" not in seen else None)
    with qtbot.waitSignal(job.ended, timeout=2000):
        engines[0].run(job, steps=2)
    negative = "The negative prompt is 80 tokens; this model reads the first 75 — the rest is ignored."
    assert seen == ["started", WARNING, negative, "step"]
    bridge.shutdown()


def test_a_short_prompt_signals_no_warning(qtbot: Any) -> None:
    engines: list[FakeEngine] = []
    bridge = EngineBridge(lambda publish: engines.append(FakeEngine(publish)) or engines[-1])
    job = bridge.submit(GenerationRequest(prompt=" ".join(["apple"] * 75), width=64, height=64))
    warnings: list[str] = []
    job.warning.connect(warnings.append)
    with qtbot.waitSignal(job.ended, timeout=2000):
        engines[0].run(job, steps=2)
    assert warnings == []
    bridge.shutdown()


def _generate(win: Any, prompt: str) -> Any:
    win.vm.set("prompt", prompt)
    win.vm.set("width", 64)
    win.vm.set("height", 64)
    job = win.generate()
    assert job is not None
    return job


def test_the_generate_tab_shows_the_warning_and_still_saves(window: Any, qtbot: Any) -> None:
    job = _generate(window, LONG)
    messages: list[str] = []
    window.generation.status_message.connect(messages.append)
    with qtbot.waitSignal(window.generation.results_saved, timeout=3000):
        engine_of(window).run(job, steps=2)
    assert window.banner.isVisible() and window.banner.severity == "warning"
    assert window.banner.property("severity") == "warning"
    assert WARNING in window.banner.message.text()
    assert WARNING in messages
    job2 = _generate(window, "a red square")  # the next job starts with the banner gone
    assert not window.banner.isVisible()
    with qtbot.waitSignal(window.generation.results_saved, timeout=3000):
        engine_of(window).run(job2, steps=2)
    assert not window.banner.isVisible()


def test_a_failure_after_a_warning_is_shown_as_an_error(window: Any, qtbot: Any) -> None:
    job = _generate(window, LONG)
    engine = engine_of(window)
    engine.run(job, steps=1, finish=False)
    qtbot.waitUntil(window.banner.isVisible, timeout=2000)
    assert window.banner.severity == "warning"
    engine.fail(job)
    qtbot.waitUntil(lambda: window.banner.severity == "error", timeout=2000)
    assert window.banner.property("severity") == "error"
    assert "Out of memory" in window.banner.message.text()
