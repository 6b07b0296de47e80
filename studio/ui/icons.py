"""Icons: SVG files under resources/icons, found through `studio.core.paths.resource` (works frozen)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QRect, QSize, Qt
from PySide6.QtGui import QIcon, QIconEngine, QPainter, QPixmap

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


class ThemedIconEngine(QIconEngine):
    """Draws resources/icons/NAME.svg for the theme in force when it paints, so icons made before a
    switch to the light theme turn dark-on-light (and back) without being rebuilt."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._icons: dict[Path, QIcon] = {}

    def current(self) -> QIcon:
        path = icon_path(self.name)
        if path not in self._icons:
            self._icons[path] = QIcon(str(path))
        return self._icons[path]

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        self.current().paint(painter, rect, Qt.AlignmentFlag.AlignCenter, mode, state)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.current().pixmap(size, mode, state)

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:  # noqa: N802
        return self.current().actualSize(size, mode, state)

    def clone(self) -> QIconEngine:
        return ThemedIconEngine(self.name)

    def key(self) -> str:
        return "studio-themed"


def icon(name: str) -> QIcon:
    """The icon `name`, drawn for the current theme (an empty QIcon, logged, when the file is missing)."""
    path = icon_path(name)
    if not path.is_file():
        log.warning("Missing icon %s", path)
        return QIcon()
    return QIcon(ThemedIconEngine(name))
