"""What the walkthroughs (tests/ui/generate_walkthrough.py, tests/ui/canvas/walkthrough.py) share:
fresh user folders, the real main window, waiting on the Qt loop, and one PASS/FAIL line a step."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.launch import user_dir_env

RESULTS: list[tuple[str, bool, str]] = []  # (step, passed, detail), in the order they ran


def use_fresh_user_dirs(root: Path) -> None:
    """Every Studio user folder under `root` for this process (and its children); one torch thread."""
    os.environ.update(user_dir_env(root))
    os.environ.setdefault("STUDIO_TORCH_THREADS", "1")


def show_window(app: Any, root: Path) -> tuple[Any, Any]:
    """The real main window as `studio.app.main` builds it, shown at 1400x870, and its user folders."""
    from studio.app import build_window
    from studio.core.paths import user_dirs

    dirs = user_dirs().ensure()
    assert str(dirs.config).startswith(str(root)), dirs.config
    window = build_window(app, dirs)
    window.resize(1400, 870)
    window.show()
    return window, dirs


def wait_until(cond: Callable[[], Any], timeout: float = 180.0) -> bool:
    """Run the Qt loop until `cond()` holds. Sleeps between rounds with the GIL released: QTest.qWait
    keeps it, which starved the engine thread (model loading took minutes instead of seconds)."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        QApplication.processEvents()
        time.sleep(0.02)
    return bool(cond())


def step(name: str, fn: Callable[[], str | None]) -> bool:
    try:
        detail, ok = fn() or "", True
    except Exception as exc:  # report and go on with the next step
        traceback.print_exc()
        detail, ok = f"{type(exc).__name__}: {exc}", False
    RESULTS.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok
