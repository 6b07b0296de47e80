"""The window driving the ComfyUI REPLAY (tests/remote/replay: a recorded real session played back), so
CI checks the whole path without a ComfyUI: app.build_window with the real engine factory and server
calls, Settings "Test" against the server, the picker listing its checkpoint, and Generate running
the recorded txt2img job with its previews reaching the window and the result saved with metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from studio.core.remote_servers import host_port
from tests.remote.comfy_server import CHECKPOINT
from tests.remote.replay import scenarios
from tests.remote.replay.server import ReplayServer
from tests.remote.replay.transcript import load
from tests.ui.conftest import answers, user_dirs  # noqa: F401 (fixtures)


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer(load("txt2img")) as server:
        yield server


def _window(qtbot: Any, dirs: Any, url: str) -> Any:
    from studio.app import build_window

    settings = {"version": 1, "run_on": "comfyui", "comfyui_servers": [{"url": url}], "preview_interval": 1}
    (Path(dirs.config) / "settings.json").write_text(json.dumps(settings))
    win = build_window(QApplication.instance(), dirs)
    qtbot.addWidget(win)
    win.show()
    return win


def _use_scenario_request(win: Any, scenario: str = "txt2img") -> None:
    """The Generate tab's fields as the recorded job had them (else it would not match)."""
    recorded = scenarios.request(scenario)
    for name in (
        "prompt",
        "negative_prompt",
        "model",
        "steps",
        "guidance",
        "scheduler",
        "seed",
        "width",
        "height",
    ):
        win.vm.set(name, getattr(recorded, name))
    win.vm.set("randomize_seed", False)


def test_txt2img_from_the_window_on_the_replay(qtbot: Any, user_dirs: Any, replay: ReplayServer) -> None:  # noqa: F811
    from studio.core.metadata import read_png_metadata

    win = _window(qtbot, user_dirs, replay.url)
    steps: list[Any] = []
    win.bridge.step.connect(steps.append)
    try:
        assert win.status.where_label.text() == f"ComfyUI: {host_port(replay.url)}"
        combo = win.model_picker.combo
        qtbot.waitUntil(
            lambda: CHECKPOINT in [combo.itemText(i) for i in range(combo.count())], timeout=15_000
        )
        assert win.vm.model == combo.itemText(0)  # the server's first checkpoint replaced the built-in model
        _use_scenario_request(win)
        job = win.generate()
        assert job is not None and job.rejection is None
        with qtbot.waitSignal(win.generation.results_saved, timeout=60_000) as blocker:
            pass
        assert replay.mismatches == []
        saved = blocker.args[0]
        assert len(saved) == 1 and saved[0].path.is_file()
        assert steps and steps[-1].step == steps[-1].total == 3
        assert any(s.preview is not None for s in steps)
        meta = read_png_metadata(saved[0].path)
        assert meta is not None and meta.prompt == "a small red fox, watercolour"
        assert meta.settings["Seed"] == "1234" and meta.settings["Model"] == Path(CHECKPOINT).stem
        assert win.progress.label.text().startswith("Done")
        assert win.status.model_label.text() == CHECKPOINT and not win.status.busy.isVisible()
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()


def test_cancel_from_the_window_stops_the_job_on_the_server(qtbot: Any, user_dirs: Any) -> None:  # noqa: F811
    with ReplayServer(load("cancel")) as replay:
        win = _window(qtbot, user_dirs, replay.url)
        try:
            qtbot.waitUntil(lambda: win.vm.model != "", timeout=15_000)
            _use_scenario_request(win, "cancel")
            job = win.generate()
            assert job is not None and job.rejection is None
            with qtbot.waitSignal(job.step, timeout=60_000):
                pass
            with qtbot.waitSignal(job.cancelled, timeout=30_000) as blocker:
                win.cancel()
            assert blocker.args[0].at_step < scenarios.request("cancel").steps
            assert ("POST", "/interrupt") in replay.requests and replay.mismatches == []
            assert win.progress.label.text().startswith("Cancelled at step")
            assert win.generate_button.isEnabled()
        finally:
            win.bridge.shutdown(timeout=20)
            win.close()


def test_what_a_server_cannot_run_is_refused_with_a_message(
    qtbot: Any,
    user_dirs: Any,  # noqa: F811
    replay: ReplayServer,
) -> None:
    win = _window(qtbot, user_dirs, replay.url)
    try:
        qtbot.waitUntil(lambda: win.vm.model != "", timeout=15_000)
        _use_scenario_request(win)
        win.vm.set("prompt", "a fox <lora:ink:0.6>")
        assert win.generate() is None
        message = win.banner.message.text()
        assert "LoRAs" in message and "cannot run on a ComfyUI server" in message
        assert ("POST", "/prompt") not in replay.requests
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()


def test_settings_test_button_asks_the_replay(qtbot: Any, user_dirs: Any, replay: ReplayServer) -> None:  # noqa: F811
    win = _window(qtbot, user_dirs, replay.url)
    try:
        section = win.show_settings().servers
        section.test_button.click()
        qtbot.waitUntil(lambda: section.tests_pending == 0, timeout=15_000)
        version = json.loads(_recorded_body(replay, "/system_stats"))["system"]["comfyui_version"]
        assert section.status_text(0) == f"✓ ComfyUI {version}, 1 CPU, queue 0"
    finally:
        win.close()


def _recorded_body(replay: ReplayServer, path: str) -> str:
    from tests.remote.replay.transcript import unpack_body

    exchange = next(e for e in replay.transcript.exchanges if e.path == path)
    return unpack_body(exchange.response).decode()


def test_cli_generate_on_the_replay(tmp_path: Path, replay: ReplayServer) -> None:
    """studio-cli (the installed entry point, in its own process) runs the recorded txt2img job."""
    import subprocess
    import sys

    from studio.core.metadata import read_png_metadata
    from tests.launch import ROOT, app_env

    recorded = scenarios.request("txt2img")
    out = tmp_path / "fox.png"
    argv = [
        *("generate", "--server", replay.url, "--model", recorded.model),
        *("--prompt", recorded.prompt, "--negative", recorded.negative_prompt),
        *("--steps", str(recorded.steps), "--guidance", str(recorded.guidance)),
        *("--scheduler", recorded.scheduler, "--seed", str(recorded.seed)),
        *("--width", str(recorded.width), "--height", str(recorded.height), "--out", str(out)),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "studio.cli", *argv],
        env=app_env(tmp_path / "user"),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and replay.mismatches == []
    meta = read_png_metadata(out)
    assert meta is not None and meta.prompt == recorded.prompt
    assert meta.settings["Seed"] == "1234" and meta.settings["Sampler"] == "DPM++ 2M"
