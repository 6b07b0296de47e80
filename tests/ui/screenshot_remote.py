"""Screenshots of the real window driving a real ComfyUI server (not a test).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m tests.ui.screenshot_remote URL OUT_PREFIX

Fresh user folders in a temp dir whose settings say jobs run on the server at URL; the window is built
as `studio` builds it (the real engine factory: the remote engine, the real server calls). Writes
OUT_PREFIX-settings.png (the Settings dialog's "Run jobs on" tab after "Test"), OUT_PREFIX-running.png (the
Generate tab half-way through a job on the server, its preview live, the status bar naming the
server) and OUT_PREFIX-done.png (the finished job in the history).
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from tests.ui.walk import use_fresh_user_dirs, wait_until

log = logging.getLogger("screenshot_remote")
PROMPTS = ("a lighthouse on a cliff at dusk", "a red fox in the snow", "a paper boat on a pond")


def _settings(url: str, config: Path) -> None:
    config.mkdir(parents=True, exist_ok=True)
    data = {
        "version": 1,
        "run_on": "comfyui",
        "comfyui_servers": [{"url": url, "name": ""}],
        "preview_interval": 1,
    }
    (config / "settings.json").write_text(json.dumps(data))


def _shoot_settings(window: Any, out: str) -> None:
    dialog = window.show_settings()
    section = dialog.servers
    dialog.tabs.setCurrentWidget(section)
    row = section.add_server()  # a second server, not there, its token over plain http: what is said
    for column, text in enumerate(("http://gpu-box.invalid:8188", "GPU box", "not-a-real-token")):
        section.table.cellWidget(row, column).setText(text)
    section.test_button.click()
    wait_until(lambda: section.tests_pending == 0, 30)
    wait_until(lambda: False, 0.3)
    dialog.grab().save(out)
    log.info("saved %s (%s)", out, section.status_text(0))
    dialog.reject()


def _request(window: Any, prompt: str, steps: int, size: int) -> None:
    for name, value in {
        "prompt": prompt,
        "negative_prompt": "blurry",
        "width": size,
        "height": size,
        "steps": steps,
        "scheduler": "Euler a",
    }.items():
        window.vm.set(name, value)


def main(url: str, prefix: str) -> int:
    logging.basicConfig(level=logging.INFO)
    root = Path(tempfile.mkdtemp(prefix="studio-remote-shot-"))
    use_fresh_user_dirs(root)
    from studio.app import after_shown, build_window
    from studio.core.paths import user_dirs

    _settings(url, root / "config")
    app = QApplication(sys.argv[:1])
    dirs = user_dirs().ensure()
    window = build_window(app, dirs)
    window.resize(1400, 870)
    window.show()
    QTimer.singleShot(0, lambda: after_shown(window, dirs, preload=False))
    combo = window.model_picker.combo
    if not wait_until(lambda: combo.count() > 0 and combo.itemData(0) is not None, 60):
        log.error("the server's checkpoints were not listed: %s", combo.itemText(0))
        return 1
    _shoot_settings(window, f"{prefix}-settings.png")
    saved: list[object] = []
    window.generation.results_saved.connect(saved.append)
    for prompt in PROMPTS[1:]:  # a short history first
        _request(window, prompt, steps=6, size=128)
        before = len(saved)
        window.generate()
        if not wait_until(lambda: len(saved) > before, 300):  # noqa: B023 (waited on here)
            return 1
    _request(window, PROMPTS[0], steps=24, size=192)
    shot = {"taken": False}

    def on_step(event: Any) -> None:
        if not shot["taken"] and event.step >= event.total // 2 and event.preview is not None:
            shot["taken"] = True
            QTimer.singleShot(150, lambda: window.grab().save(f"{prefix}-running.png"))

    window.bridge.step.connect(on_step)
    window.generate()
    done = wait_until(lambda: len(saved) == len(PROMPTS), 600)
    wait_until(lambda: False, 0.5)
    window.grab().save(f"{prefix}-done.png")
    window.bridge.shutdown(timeout=10)
    window.close()
    return 0 if done and shot["taken"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "docs/screenshot-remote"))
