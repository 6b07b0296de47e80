"""The window driving a REAL ComfyUI (marked `comfyui`: env STUDIO_COMFYUI, tests/remote/comfy_server.py).

The window is built as `studio` builds it (app.build_window: the real engine factory and server calls)
from a settings file that says jobs run on the server: the status bar names it, the model picker lists
its checkpoints, and Generate runs txt2img there with live previews, saving a PNG with Studio's
metadata. With two servers, killing the one running the job moves it to the other and the banner says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from PySide6.QtWidgets import QApplication

from studio.core.remote_servers import host_port
from tests.remote.comfy_server import CHECKPOINT, ComfyProcess
from tests.ui.conftest import answers, user_dirs  # noqa: F401 (fixtures)

pytestmark = pytest.mark.comfyui


def _window(qtbot: Any, dirs: Any, urls: list[str]) -> Any:
    from studio.app import build_window

    servers = [{"url": url} for url in urls]
    (Path(dirs.config) / "settings.json").write_text(
        json.dumps({"version": 1, "run_on": "comfyui", "comfyui_servers": servers, "preview_interval": 1})
    )
    win = build_window(QApplication.instance(), dirs)
    qtbot.addWidget(win)
    win.show()
    return win


def _picker_names(win: Any) -> list[str]:
    combo = win.model_picker.combo
    return [combo.itemText(i) for i in range(combo.count())]


def _set_request(win: Any, steps: int, size: int) -> None:
    for name, value in {
        "prompt": "a lighthouse at dusk",
        "width": size,
        "height": size,
        "steps": steps,
        "randomize_seed": False,
        "seed": 11,
        "scheduler": "Euler",
    }.items():
        win.vm.set(name, value)


def test_txt2img_from_the_window_on_comfyui(qtbot: Any, user_dirs: Any, comfy_url: str) -> None:  # noqa: F811
    from studio.core.metadata import read_png_metadata

    win = _window(qtbot, user_dirs, [comfy_url])
    steps: list[Any] = []
    win.bridge.step.connect(steps.append)
    try:
        assert win.status.where_label.text() == f"ComfyUI: {host_port(comfy_url)}"
        qtbot.waitUntil(lambda: CHECKPOINT in _picker_names(win), timeout=30_000)
        win.vm.set("model", CHECKPOINT)
        _set_request(win, steps=3, size=64)
        job = win.generate()
        assert job is not None and job.rejection is None
        with qtbot.waitSignal(win.generation.results_saved, timeout=300_000) as blocker:
            pass
        saved = blocker.args[0]
        assert len(saved) == 1 and saved[0].path.is_file()
        assert steps and steps[-1].step == 3 and steps[-1].total == 3
        assert any(s.preview is not None for s in steps)  # the server's preview frames
        meta = read_png_metadata(saved[0].path)
        assert meta is not None and meta.prompt == "a lighthouse at dusk"
        assert meta.settings["Seed"] == "11" and meta.settings["Model"] == Path(CHECKPOINT).stem
        assert win.preview.image().size().width() == 64 and win.generate_button.isEnabled()
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()


def test_img2img_from_the_window_on_comfyui(qtbot: Any, user_dirs: Any, comfy_url: str) -> None:  # noqa: F811
    from PIL import Image, ImageDraw

    from studio.core.metadata import read_png_metadata

    win = _window(qtbot, user_dirs, [comfy_url])
    try:
        qtbot.waitUntil(lambda: CHECKPOINT in _picker_names(win), timeout=30_000)
        win.vm.set("model", CHECKPOINT)
        _set_request(win, steps=4, size=64)
        init = Image.new("RGB", (64, 64), (30, 90, 160))
        ImageDraw.Draw(init).ellipse((16, 16, 48, 48), fill=(240, 200, 40))
        win.vm.set("init_image", init)
        win.vm.set("strength", 0.5)
        job = win.generate()
        assert job is not None and job.request.mode.value == "img2img"
        with qtbot.waitSignal(win.generation.results_saved, timeout=300_000) as blocker:
            pass
        meta = read_png_metadata(blocker.args[0][0].path)
        assert meta is not None and meta.settings["Denoising strength"] == "0.5"
        assert meta.settings["Model"] == Path(CHECKPOINT).stem
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()


def _running_on(url: str) -> bool:
    try:
        queue = requests.get(url + "/queue", timeout=2).json()
    except (requests.RequestException, ValueError):
        return False
    return bool(queue.get("queue_running"))


def test_a_job_moves_off_a_killed_server_and_the_banner_says_so(
    qtbot: Any,
    user_dirs: Any,  # noqa: F811
    comfy_url: str,
    killable_comfy: ComfyProcess,
) -> None:
    win = _window(qtbot, user_dirs, [killable_comfy.url, comfy_url])
    warnings: list[str] = []
    try:
        assert win.status.where_label.text() == f"ComfyUI: {host_port(killable_comfy.url)} (+1)"
        qtbot.waitUntil(lambda: CHECKPOINT in _picker_names(win), timeout=30_000)
        win.vm.set("model", CHECKPOINT)
        _set_request(win, steps=40, size=256)
        job = win.generate()
        assert job is not None and job.rejection is None
        job.warning.connect(warnings.append)
        qtbot.waitUntil(lambda: _running_on(killable_comfy.url) or _running_on(comfy_url), timeout=120_000)
        if not _running_on(killable_comfy.url):
            pytest.skip("the job went to the server this test may not kill")
        time.sleep(1.0)
        killable_comfy.kill()
        with qtbot.waitSignal(win.generation.results_saved, timeout=600_000):
            pass
        assert warnings and "another server" in warnings[0]
        assert "another server" in win.banner.message.text()
    finally:
        win.bridge.shutdown(timeout=20)
        win.close()
