"""Single-file checkpoints (original LDM / A1111 layout). Work in progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_single_file(path: Path, *, ref: str, dtype: Any, progress: Any = None) -> Any:
    from studio.engine.loading import ModelLoadError

    raise ModelLoadError(f"Single-file models ({path.name}) are not supported yet.")
