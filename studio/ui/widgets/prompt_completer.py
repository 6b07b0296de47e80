"""Completion of the phrase being typed in a prompt box, from the model's concept names.

A prompt is a comma-separated list of phrases ("red heart, twemoji style"); the phrase under the
cursor (from the last comma or line start) is matched anywhere in each name, case-insensitively, from
its second character on. The list opens with its first name highlighted; choosing a name (Enter, Tab
or a click) replaces just that phrase; Escape or typing on closes the list. The names come from `core.model_prompts.prompt_completions`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QStringListModel, Qt
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QCompleter

from studio.ui.widgets.inputs import PromptEdit

MIN_PREFIX = 2
VISIBLE_ROWS = 10
_POPUP_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Escape, Qt.Key.Key_Backtab)


class PromptCompleter(QObject):
    """Attach to a `PromptEdit`; `set_names` replaces the list (on a model change)."""

    def __init__(self, edit: PromptEdit) -> None:
        super().__init__(edit)
        self.edit = edit
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setWidget(edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setMaxVisibleItems(VISIBLE_ROWS)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._activated)
        popup = self.completer.popup()
        assert popup is not None  # QCompleter makes its list view on construction
        self.popup = popup
        popup.installEventFilter(self)  # after QCompleter's filter, so it sees the popup's keys first
        edit.key_hook = self

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        """Tab takes the highlighted name (QCompleter would give it to the prompt box first, whose
        Tab moves the focus on)."""
        if (
            watched is self.popup
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Tab
            and self.popup.currentIndex().isValid()
        ):
            self.insert(str(self.popup.currentIndex().data()))
            return True
        return super().eventFilter(watched, event)

    def set_names(self, names: list[str]) -> None:
        self.model.setStringList(names)
        self.edit.setToolTip(self._tooltip(bool(names)))

    def names(self) -> list[str]:
        return self.model.stringList()

    def popup_visible(self) -> bool:
        return self.popup.isVisible()

    def suggestions(self) -> list[str]:
        """What the open list shows now."""
        shown = self.completer.completionModel()
        return [str(shown.index(row, 0).data()) for row in range(shown.rowCount())]

    def _activated(self, chosen: object) -> None:
        """QCompleter's `activated` (a str; a QModelIndex in some bindings' default overload)."""
        if isinstance(chosen, QModelIndex):
            chosen = chosen.data()
        self.insert(str(chosen))

    def insert(self, name: str) -> None:
        """Replace the phrase under the cursor with `name`."""
        cursor = self.edit.textCursor()
        phrase = current_phrase(self.edit.toPlainText()[: cursor.position()])
        cursor.movePosition(QTextCursor.MoveOperation.Left, QTextCursor.MoveMode.KeepAnchor, len(phrase))
        cursor.insertText(name)
        self.edit.setTextCursor(cursor)
        self.popup.hide()

    def takes_key(self, event: QKeyEvent) -> bool:
        """Called before the edit types a key: True when the open list takes it (Enter, Tab, Esc)."""
        if self.popup_visible() and event.key() in _POPUP_KEYS:
            event.ignore()  # QCompleter's event filter on the popup acts on it
            return True
        return False

    def after_key(self, event: QKeyEvent) -> None:
        typed = event.text().isprintable() and bool(event.text())  # not Escape, Enter, Tab
        if typed or event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete):
            self.update_popup()

    def update_popup(self) -> None:
        """After a key: show, filter or hide the list for the phrase under the cursor."""
        before = self.edit.toPlainText()[: self.edit.textCursor().position()]
        phrase = current_phrase(before).strip()
        if len(phrase) < MIN_PREFIX or not self.names():
            self.popup.hide()
            return
        self.completer.setCompletionPrefix(phrase)
        if self.completer.completionCount() == 0 or self.suggestions() == [phrase]:
            self.popup.hide()
            return
        rect = self.edit.cursorRect()
        rect.setWidth(max(self.edit.width() // 2, 240))
        self.completer.complete(rect)
        # the first name highlighted: Enter / Tab take it (with none, they closed the list doing nothing)
        self.popup.setCurrentIndex(self.completer.completionModel().index(0, 0))

    def _tooltip(self, has_names: bool) -> str:
        base = self.edit.toolTip().split("\n")[0]
        if not has_names:
            return base
        return f"{base}\nType two letters for the things this model knows ({len(self.names())} names)."


def current_phrase(text_before_cursor: str) -> str:
    """The text from the last comma or line break to the cursor, leading spaces dropped."""
    cut = max(text_before_cursor.rfind(","), text_before_cursor.rfind("\n"))
    return text_before_cursor[cut + 1 :].lstrip()
