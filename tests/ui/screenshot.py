"""Take screenshots of the real window mid-generation (not a test).

    xvfb-run -s "-screen 0 1400x900x24" python -m tests.ui.screenshot docs/screenshot-window.png [WARMUPS [SIZE]]

Uses the real Engine; the model is the built-in one when present, else a tiny random pipeline.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.app import after_shown, build_window
from studio.core.paths import builtin_model_dir, user_dirs

log = logging.getLogger("screenshot")


def main(
    out: str,
    at_fraction: float = 0.5,
    warmups: int = 4,
    size: int = 256,
    prompt: str = "a lighthouse on a cliff at dusk, oil painting",
) -> int:
    logging.basicConfig(level=logging.INFO)
    app = QApplication(sys.argv[:1])
    dirs = user_dirs().ensure()
    window = build_window(app, dirs)
    window.resize(1400, 870)
    window.show()
    model = ""
    if not (builtin_model_dir() / "model_index.json").exists():
        from tests.tiny_model import save_tiny_diffusers

        model = str(save_tiny_diffusers(Path(tempfile.mkdtemp()) / "tiny-demo"))
    vm = window.vm
    for name, value in {
        "prompt": prompt,
        "negative_prompt": "blurry, lowres, watermark",
        "model": model,
        "width": size,
        "height": size,
        "scheduler": "Euler a",
    }.items():
        vm.set(name, value)
    taken = {"done": False, "left": warmups}

    def on_step(event: object) -> None:
        if taken["left"] > 0 or taken["done"]:
            return
        if event.step >= int(event.total * at_fraction):  # type: ignore[attr-defined]
            taken["done"] = True
            QTimer.singleShot(50, lambda: (window.grab().save(out), log.info("saved %s", out)))

    def on_saved(_results: object) -> None:
        if taken["done"]:
            QTimer.singleShot(300, app.quit)
            return
        taken["left"] -= 1
        if taken["left"] == 0:
            vm.set("steps", 40)
        QTimer.singleShot(100, window.generate)

    window.bridge.step.connect(on_step)
    window.generation.results_saved.connect(on_saved)
    vm.set("steps", 6 if warmups else 40)
    QTimer.singleShot(100, lambda: (after_shown(window, dirs, preload=False), window.generate()))
    QTimer.singleShot(300_000, app.quit)
    app.exec()
    window.bridge.shutdown(timeout=10)
    return 0 if taken["done"] else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(
        main(
            args[0] if args else "docs/screenshot-window.png",
            warmups=int(args[1]) if len(args) > 1 else 4,
            size=int(args[2]) if len(args) > 2 else 256,
        )
    )
