"""Icons: SVG files under resources/icons, found through `studio.core.paths.resource` (works frozen)."""

from __future__ import annotations

import logging

from PySide6.QtGui import QIcon

from studio.core.paths import resource

log = logging.getLogger(__name__)


def icon_path(name: str) -> str:
    return str(resource("icons", f"{name}.svg"))


def icon(name: str) -> QIcon:
    """The icon `name` (an empty QIcon, logged, when the file is missing)."""
    path = resource("icons", f"{name}.svg")
    if not path.is_file():
        log.warning("Missing icon %s", path)
        return QIcon()
    return QIcon(str(path))
