"""The real main window set to run its jobs on ComfyUI servers (for the window tests of tests/remote)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication


def window_on_servers(qtbot: Any, dirs: Any, urls: list[str]) -> Any:
    """`app.build_window` as `studio` builds it, with settings.json choosing the servers at `urls`."""
    from studio.app import build_window

    servers = [{"url": url} for url in urls]
    settings = {"version": 1, "run_on": "comfyui", "comfyui_servers": servers, "preview_interval": 1}
    (Path(dirs.config) / "settings.json").write_text(json.dumps(settings))
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    win = build_window(app, dirs)
    qtbot.addWidget(win)
    win.show()
    return win
