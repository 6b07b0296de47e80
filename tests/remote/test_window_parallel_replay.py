"""A queue of 6 jobs from the window spread over two ComfyUI servers, on two REPLAYS of the recorded
txt2img session (tests/remote/replay; each replay serves the recorded job again for every new prompt,
so the 6 jobs are the recorded request 6 times): app.build_window with the real engine factory, the
Generate tab keeping two jobs submitted at once (one per server), both servers receiving jobs, and
all 6 results saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.remote.replay.server import ReplayServer
from tests.remote.replay.transcript import load
from tests.remote.test_window_replay import _use_scenario_request
from tests.remote.window import window_on_servers
from tests.ui.conftest import answers, user_dirs  # noqa: F401 (fixtures)

JOBS = 6


@pytest.fixture
def replays() -> Iterator[tuple[ReplayServer, ReplayServer]]:
    # a tenth of the recorded pace (a job about 2 s, as recorded 20 s on a loaded CPU): long enough
    # that both servers are busy at once, as they would be
    with (
        ReplayServer(load("txt2img"), time_scale=0.1) as one,
        ReplayServer(load("txt2img"), time_scale=0.1) as two,
    ):
        yield one, two


def _prompts(replay: ReplayServer) -> int:
    return replay.requests.count(("POST", "/prompt"))


def test_six_window_jobs_spread_over_two_servers(
    qtbot: Any,
    user_dirs: Any,  # noqa: F811
    replays: tuple[ReplayServer, ReplayServer],
) -> None:
    win = window_on_servers(qtbot, user_dirs, [r.url for r in replays])
    saved: list[Any] = []
    win.generation.results_saved.connect(saved.extend)
    most_running = 0

    def count_running(_busy: bool) -> None:
        nonlocal most_running
        most_running = max(most_running, len(win.generation.running))

    win.generation.busy_changed.connect(count_running)
    try:
        qtbot.waitUntil(lambda: win.vm.model != "", timeout=15_000)
        engine = win.bridge.ensure_engine()
        qtbot.waitUntil(lambda: all(s.reachable for s in engine.server_status()), timeout=15_000)
        assert win.bridge.parallel_jobs() == 2
        _use_scenario_request(win)
        jobs = [win.generate() for _ in range(JOBS)]
        assert all(job is not None for job in jobs[:2]) and jobs[2:] == [None] * (JOBS - 2)
        assert len(win.generation.running) == 2 and len(win.generation.queue) == JOBS - 2
        lines = win.page.queue.lines()
        assert len(lines) == JOBS and all(line.startswith("▶") for line in lines[:2])
        qtbot.waitUntil(lambda: len(saved) == JOBS, timeout=180_000)
        qtbot.waitUntil(lambda: not win.generation.busy, timeout=10_000)
        assert [r.mismatches for r in replays] == [[], []]
        per_server = [_prompts(r) for r in replays]
        assert sum(per_server) == JOBS and min(per_server) >= 1, per_server  # both servers ran jobs
        assert most_running == 2  # two jobs at once, never more
        assert len({r.path for r in saved}) == JOBS and all(r.path.is_file() for r in saved)
        assert win.history.count() == JOBS and win.generate_button.isEnabled()
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()
