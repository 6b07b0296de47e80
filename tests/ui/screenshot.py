"""Take a screenshot of the real window mid-generation (not a test).

    xvfb-run -s "-screen 0 1400x900x24" python -m tests.ui.screenshot docs/screenshot-window.png [WARMUPS]

Uses the real Engine. With the built-in model (studio-mini, 128 px emoji) the "Emoji (studio-mini)"
preset is applied; without it a tiny random pipeline stands in. A few quick warm-up jobs fill the
history strip, then the window is grabbed half-way through a longer job.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.app import after_shown, build_window
from studio.core.paths import builtin_model_dir, user_dirs

log = logging.getLogger("screenshot")
SUBJECTS = ("red apple", "rocket", "sun with face", "cat face", "snowman", "tulip", "watermelon")
EMOJI_PRESET = "Emoji (studio-mini)"


def _prepare(window: Any) -> None:
    vm = window.vm
    if (builtin_model_dir() / "model_index.json").exists():
        vm.set("prompt", SUBJECTS[0])
        window.presets_panel.select(EMOJI_PRESET)
        window.presets_panel.apply_selected()
        return
    from tests.tiny_model import save_tiny_diffusers

    tiny = save_tiny_diffusers(Path(tempfile.mkdtemp()) / "tiny-demo")
    for name, value in {
        "prompt": "a lighthouse on a cliff at dusk",
        "model": str(tiny),
        "width": 128,
        "height": 128,
        "batch": 1,
    }.items():
        vm.set(name, value)


def main(out: str, warmups: int = 4, at_fraction: float = 0.5) -> int:
    logging.basicConfig(level=logging.INFO)
    app = QApplication(sys.argv[:1])
    dirs = user_dirs().ensure()
    window = build_window(app, dirs)
    window.resize(1400, 870)
    window.show()
    _prepare(window)
    vm = window.vm
    template = vm.prompt.replace(SUBJECTS[0], "{}") if SUBJECTS[0] in vm.prompt else vm.prompt
    state = {"done": False, "left": warmups, "n": 0, "final_steps": max(vm.steps * 2, 40)}

    def on_step(event: Any) -> None:
        if state["left"] > 0 or state["done"] or event.step < int(event.total * at_fraction):
            return
        state["done"] = True
        window.grab().save(out)  # the Generate tab already shows this step's preview
        log.info("saved %s", out)

    def next_job() -> None:
        state["n"] += 1
        vm.set("prompt", template.format(SUBJECTS[state["n"] % len(SUBJECTS)]))
        if state["left"] == 0:
            vm.set("steps", state["final_steps"])
        window.generate()

    def on_saved(_results: object) -> None:
        if state["done"]:
            QTimer.singleShot(300, app.quit)
            return
        state["left"] -= 1
        QTimer.singleShot(100, next_job)

    window.bridge.step.connect(on_step)
    window.generation.results_saved.connect(on_saved)
    if warmups == 0:
        vm.set("steps", state["final_steps"])
    QTimer.singleShot(100, lambda: (after_shown(window, dirs, preload=False), window.generate()))
    QTimer.singleShot(400_000, app.quit)
    app.exec()
    window.bridge.shutdown(timeout=10)
    return 0 if state["done"] else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(
        main(args[0] if args else "docs/screenshot-window.png", int(args[1]) if len(args) > 1 else 4)
    )
