"""History strip: this session's results and the output folder's recent ones, newest first.

Thumbnails of files on disk are read on a thread pool (QImage is safe off the GUI thread) and
turned into pixmaps when they arrive on the GUI thread.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from studio.ui.icons import icon
from studio.ui.images import load_thumbnail

log = logging.getLogger(__name__)
THUMB = 96
PATH_ROLE = Qt.ItemDataRole.UserRole

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("reuse_parameters", "Reuse parameters", "reuse"),
    ("reuse_seed", "Reuse seed", "dice"),
    ("open_in_canvas", "Open in canvas", "canvas"),
    ("upscale", "Upscale…", "upscale"),
    ("copy", "Copy image", "copy"),
    ("show_in_folder", "Show in folder", "folder"),
    ("delete", "Delete…", "trash"),
)


class ThumbDelegate(QStyledItemDelegate):
    """Thumbnails in their true colours: the selection is a border around the image, never a tint
    or a fill over it."""

    BORDER = 2

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        rect = option.rect.adjusted(3, 3, -3, -3)
        icon_ = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon_, QIcon) and not icon_.isNull():
            icon_.paint(painter, rect, Qt.AlignmentFlag.AlignCenter, QIcon.Mode.Normal, QIcon.State.Off)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.save()
            color = option.palette.color(QPalette.ColorRole.Highlight)
            painter.setPen(QPen(color, self.BORDER))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(option.rect.adjusted(1, 1, -1, -1), 4, 4)
            painter.restore()


class _ThumbSignals(QObject):
    loaded = Signal(str, QImage)


class _ThumbJob(QRunnable):
    def __init__(self, path: Path, signals: _ThumbSignals) -> None:
        super().__init__()
        self.path, self.signals = path, signals

    def run(self) -> None:
        image = load_thumbnail(self.path, THUMB)
        self.signals.loaded.emit(str(self.path), image)


class HistoryStrip(QListWidget):
    image_activated = Signal(object)  # Path
    action_requested = Signal(str, object)  # action name, Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyStrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setItemDelegate(ThumbDelegate(self))
        self.setGridSize(QSize(THUMB + 12, THUMB + 12))
        self.setFixedHeight(THUMB + 34)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setToolTip("Results: click to view, right-click for reuse, copy, delete…")
        self.customContextMenuRequested.connect(self._menu)
        self.itemClicked.connect(lambda item: self.image_activated.emit(self.path_of(item)))
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._signals = _ThumbSignals(self)
        self._signals.loaded.connect(self._thumb_loaded)
        self._placeholder = icon("image")

    # -- content ----------------------------------------------------------------------------------
    def add_result(self, path: Path, image: QImage) -> QListWidgetItem:
        """A result of this session (thumbnail made from the image in memory), first in the strip."""
        item = self._make_item(path)
        item.setIcon(QIcon(self._thumb_pixmap(image)))
        self.insertItem(0, item)
        return item

    def add_recent(self, paths: list[Path]) -> None:
        """Files from the output folder (newest first), appended; thumbnails load in the background."""
        known = {str(self.path_of(self.item(i))) for i in range(self.count())}
        for path in paths:
            if str(path) in known:
                continue
            item = self._make_item(path)
            item.setIcon(self._placeholder)
            self.addItem(item)
            self.pool.start(_ThumbJob(path, self._signals))

    def remove_path(self, path: Path) -> None:
        item = self.item_for(path)
        if item is not None:
            self.takeItem(self.row(item))

    def item_for(self, path: Path) -> QListWidgetItem | None:
        for i in range(self.count()):
            if self.path_of(self.item(i)) == Path(path):
                return self.item(i)
        return None

    def paths(self) -> list[Path]:
        return [self.path_of(self.item(i)) for i in range(self.count())]

    @staticmethod
    def path_of(item: QListWidgetItem) -> Path:
        return Path(item.data(PATH_ROLE))

    # -- internals --------------------------------------------------------------------------------
    def _make_item(self, path: Path) -> QListWidgetItem:
        item = QListWidgetItem()
        item.setData(PATH_ROLE, str(path))
        item.setToolTip(path.name)
        item.setSizeHint(QSize(THUMB + 8, THUMB + 8))
        return item

    @staticmethod
    def _thumb_pixmap(image: QImage) -> QPixmap:
        return QPixmap.fromImage(image).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )

    def _thumb_loaded(self, path: str, image: QImage) -> None:
        item = self.item_for(Path(path))
        if item is not None and not image.isNull():
            item.setIcon(QIcon(self._thumb_pixmap(image)))

    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        menu = self.context_menu(self.path_of(item))
        menu.exec(self.viewport().mapToGlobal(pos))

    def context_menu(self, path: Path) -> QMenu:
        menu = QMenu(self)
        for name, label, icon_name in ACTIONS:
            if name == "delete":
                menu.addSeparator()
            action = menu.addAction(icon(icon_name), label)
            action.setObjectName(name)
            action.triggered.connect(lambda _=False, n=name: self.action_requested.emit(n, path))
        return menu

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt name)
        super().paintEvent(event)
        if self.count() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(QColor(110, 112, 125))
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter,
                "Results appear here, saved as PNG with their settings",
            )

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(2000)
