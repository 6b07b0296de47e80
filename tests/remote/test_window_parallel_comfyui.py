"""A queue of 6 jobs from the window spread over two REAL ComfyUI servers (marked `comfyui`: env
STUDIO_COMFYUI, tests/remote/comfy_server.py): the window is built as `studio` builds it, the Generate
tab keeps two jobs submitted at once (one per server), each server runs some of them (its /history
grows), and all 6 results are saved with their own seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from studio.core.metadata import read_png_metadata
from tests.remote.comfy_server import CHECKPOINT
from tests.remote.window import window_on_servers
from tests.ui.conftest import answers, user_dirs  # noqa: F401 (fixtures)

pytestmark = pytest.mark.comfyui

JOBS = 6


def _prompts_run(url: str) -> int:
    return len(requests.get(url + "/history", timeout=10).json())


def test_six_window_jobs_spread_over_two_comfyui_servers(
    qtbot: Any,
    user_dirs: Any,  # noqa: F811
    two_comfy_urls: list[str],
) -> None:
    before = [_prompts_run(url) for url in two_comfy_urls]
    win = window_on_servers(qtbot, user_dirs, two_comfy_urls)
    saved: list[Any] = []
    win.generation.results_saved.connect(saved.extend)
    try:
        combo = win.model_picker.combo
        qtbot.waitUntil(
            lambda: CHECKPOINT in [combo.itemText(i) for i in range(combo.count())], timeout=60_000
        )
        win.vm.set("model", CHECKPOINT)
        for name, value in {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "steps": 3}.items():
            win.vm.set(name, value)
        win.vm.set("randomize_seed", True)  # six different images: no job is a copy ComfyUI caches
        jobs = [win.generate() for _ in range(JOBS)]
        assert all(job is not None for job in jobs[:2]) and jobs[2:] == [None] * (JOBS - 2)
        assert len(win.generation.running) == 2
        qtbot.waitUntil(lambda: len(saved) == JOBS, timeout=900_000)
        qtbot.waitUntil(lambda: not win.generation.busy, timeout=30_000)
        per_server = [_prompts_run(url) - n for url, n in zip(two_comfy_urls, before, strict=True)]
        assert sum(per_server) == JOBS and min(per_server) >= 1, per_server
        seeds = set()
        for result in saved:
            meta = read_png_metadata(result.path)
            assert meta is not None and meta.settings["Model"] == Path(CHECKPOINT).stem
            seeds.add(meta.settings["Seed"])
        assert len(seeds) == JOBS and win.history.count() == JOBS
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()
