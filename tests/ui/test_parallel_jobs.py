"""The Generate tab runs as many jobs at once as the engine can (two ComfyUI servers: two), with the
scripted FakeEngine: the rest wait in the tab's queue, every job's results are saved, each running
job has its own row and Cancel, and the preview follows one job until it ends. At parallel 1 (the
local engine) one job runs at a time, as before."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.events import Step
from studio.core.request import PreviewKind
from studio.ui.widgets.queue_panel import running_key
from tests.ui.conftest import engine_of
from tests.ui.fakes import FakeEngine

PROMPTS = ["sun with face", "blue heart", "drooling face", "file folder", "red apple", "green tree"]


def _queue_jobs(window: Any, prompts: list[str], parallel: int) -> FakeEngine:
    engine = engine_of(window)
    engine.parallel = parallel
    for prompt in prompts:
        window.vm.set("prompt", prompt)
        window.generate()
    return engine


def _submitted(engine: FakeEngine) -> list[str]:
    return [request.prompt for request in engine.requests.values()]


def _running_id(engine: FakeEngine, prompt: str) -> int:
    return next(job for job, request in engine.requests.items() if request.prompt == prompt)


def test_six_jobs_run_two_at_a_time_and_all_are_saved(window: Any, qtbot: Any) -> None:
    engine = _queue_jobs(window, PROMPTS, parallel=2)
    assert _submitted(engine) == PROMPTS[:2]  # two with the engine at once, four waiting in the tab
    assert [p.request.prompt for p in window.generation.queue.items()] == PROMPTS[2:]
    lines = window.page.queue.lines()
    assert len(lines) == 6 and all(line.startswith("▶") for line in lines[:2])
    assert "sun with face" in lines[0] and "blue heart" in lines[1] and "waiting" in lines[2]
    saved: list[Any] = []
    window.generation.results_saved.connect(saved.extend)
    finished = 0
    while finished < len(PROMPTS):
        running = [
            job for job in engine.requests if job not in engine.handles or not engine.handles[job].done
        ]
        assert len(running) == min(2, len(PROMPTS) - finished)  # never more than the engine runs at once
        engine.run(running[0], steps=2)
        finished += 1
        qtbot.waitUntil(lambda n=finished: len(saved) == n, timeout=5000)  # noqa: B023
    assert _submitted(engine) == PROMPTS
    assert sorted(r.request.prompt for r in saved) == sorted(PROMPTS)  # each job's own result
    assert all(r.path.is_file() for r in saved) and window.history.count() == 6
    qtbot.waitUntil(lambda: not window.generation.busy, timeout=2000)
    assert not window.page.queue.isVisible() and window.generate_button.text().strip() == "Generate"


def test_the_preview_follows_one_job_until_it_ends(window: Any, qtbot: Any) -> None:
    engine = _queue_jobs(window, PROMPTS[:3], parallel=2)
    first, second = (_running_id(engine, p) for p in PROMPTS[:2])
    assert window.generation.job.id == first
    engine.run(second, steps=4, finish=False)  # the second job's previews do not replace the first's
    qtbot.waitUntil(lambda: "step 4/4" in window.page.queue.lines()[1], timeout=2000)
    assert window.progress.label.text() == "Waiting for the engine…"
    assert not window.preview.caption().startswith("Preview")
    red = np.full((64, 64, 3), (250, 0, 0), np.uint8)
    engine.emit_from_thread([Step(first, 1, 4, 0.1, red, PreviewKind.X0)])
    qtbot.waitUntil(lambda: window.progress.label.text().startswith("Step 1 of 4"), timeout=2000)
    assert window.preview.caption() == "Preview x0 · step 1/4"
    with qtbot.waitSignal(window.generation.results_saved, timeout=5000):
        engine.run(first, steps=4)
    # the first ended: the second (still running, at step 4 of 4) is shown, the third was submitted
    assert window.generation.job.id == second
    assert (
        window.progress.label.text().startswith("Step 4 of 4") and window.progress.cancel_button.isEnabled()
    )
    assert _submitted(engine) == PROMPTS[:3]


def test_cancelling_one_running_job_leaves_the_other(window: Any, qtbot: Any) -> None:
    engine = _queue_jobs(window, PROMPTS[:3], parallel=2)
    first, second = (_running_id(engine, p) for p in PROMPTS[:2])
    panel = window.page.queue
    panel.select(running_key(second))  # the row of the job NOT shown: its own Cancel
    assert panel.cancel_button.isEnabled() and not panel.up_button.isEnabled()
    panel.cancel_button.click()
    assert engine.cancelled == [second]
    assert "cancelling" in panel.lines()[1] and "cancelling" not in panel.lines()[0]
    engine.run(second, steps=3, cancel_at=1)
    qtbot.waitUntil(lambda: len(engine.requests) == 3, timeout=2000)  # its slot went to the third job
    assert window.generation.busy and window.generation.job.id == first  # the first goes on, shown
    assert window.progress.label.text() == "Waiting for the engine…"  # not "Cancelled": another job
    # the progress panel's Cancel (and Esc) cancels the job it shows
    window.progress.cancel_button.click()
    assert engine.cancelled == [second, first]


def test_a_failure_of_a_job_not_shown_reaches_the_banner(window: Any, qtbot: Any) -> None:
    engine = _queue_jobs(window, PROMPTS[:2], parallel=2)
    engine.fail(_running_id(engine, PROMPTS[1]), "Out of memory: try a smaller size.")
    qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=2000)
    assert "Out of memory" in window.banner.message.text()
    assert window.generation.busy and window.generation.job.request.prompt == PROMPTS[0]
    assert window.progress.label.text() == "Waiting for the engine…"


def test_at_parallel_one_a_single_job_runs(window: Any, qtbot: Any) -> None:
    engine = _queue_jobs(window, PROMPTS[:3], parallel=1)
    assert _submitted(engine) == PROMPTS[:1] and len(window.generation.queue) == 2
    assert [line.startswith("▶") for line in window.page.queue.lines()] == [True, False, False]
    with qtbot.waitSignal(window.generation.results_saved, timeout=5000):
        engine.run(_running_id(engine, PROMPTS[0]), steps=2)
    assert _submitted(engine) == PROMPTS[:2] and len(window.generation.queue) == 1
