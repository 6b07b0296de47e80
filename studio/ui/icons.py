"""Icons: SVG files under resources/icons, found through `studio.core.paths.resource` (works frozen)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon

from studio.core.paths import resource

log = logging.getLogger(__name__)


THEME_PROPERTY = "studioTheme"  # set on the QApplication by studio.ui.theme.apply_theme


def icon_path(name: str) -> Path:
    """resources/icons/NAME.svg, or its dark-stroked variant under icons/light/ for the light theme."""
    app = QCoreApplication.instance()
    if app is not None and app.property(THEME_PROPERTY) == "light":
        light = resource("icons", "light", f"{name}.svg")
        if light.is_file():
            return light
    return resource("icons", f"{name}.svg")


def icon(name: str) -> QIcon:
    """The icon `name` for the current theme (an empty QIcon, logged, when the file is missing)."""
    path = icon_path(name)
    if not path.is_file():
        log.warning("Missing icon %s", path)
        return QIcon()
    return QIcon(str(path))
