"""Theme: Fusion style, a dark (default) or light palette, and QSS from resources/theme/.

"system" follows the platform's colour scheme and falls back to dark when it is unknown.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from studio.core.paths import resource
from studio.ui.icons import THEME_PROPERTY

log = logging.getLogger(__name__)
ACCENT = "#7c6cff"


def resolve_theme(theme: str) -> str:
    """ "dark" or "light" for a setting of "system", "dark" or "light"."""
    if theme in ("dark", "light"):
        return theme
    try:
        scheme = QGuiApplication.styleHints().colorScheme()
    except (AttributeError, RuntimeError):
        return "dark"
    return "light" if scheme == Qt.ColorScheme.Light else "dark"


def dark_palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#17181c",
        QPalette.ColorRole.WindowText: "#dcdde4",
        QPalette.ColorRole.Base: "#141518",
        QPalette.ColorRole.AlternateBase: "#1d1e23",
        QPalette.ColorRole.ToolTipBase: "#26272e",
        QPalette.ColorRole.ToolTipText: "#e4e5ec",
        QPalette.ColorRole.Text: "#e4e5ec",
        QPalette.ColorRole.Button: "#2a2c34",
        QPalette.ColorRole.ButtonText: "#dcdde4",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: ACCENT,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#a79bff",
        QPalette.ColorRole.PlaceholderText: "#6f7180",
    }
    for role, color in roles.items():
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#5d5f6a"))
    return p


def load_qss(name: str) -> str:
    path = resource("theme", f"{name}.qss")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        log.warning("Theme file %s missing; using the plain style", path)
        return ""
    icons = resource("icons").as_posix()
    return text.replace("@ACCENT@", ACCENT).replace("@ICONS@", icons)


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply the theme setting to the application; returns "dark" or "light"."""
    resolved = resolve_theme(theme)
    app.setProperty(THEME_PROPERTY, resolved)  # icons created from now on follow the theme
    app.setStyle("Fusion")
    if resolved == "dark":
        app.setPalette(dark_palette())
    else:
        app.setPalette(app.style().standardPalette())
    app.setStyleSheet(load_qss(resolved))
    return resolved
