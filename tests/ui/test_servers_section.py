"""The Settings dialog's "Run jobs on" section as the artist uses it (issue 16 review): the row whose
field was clicked is removed, the columns show what is typed, a token that would travel unencrypted is
warned about (never refused), and the dialog fits a 1366x768 screen with OK and Cancel on it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit, QStyle, QStyleOptionFrame

from tests.ui.test_remote_settings import FakeServers, _choose_servers, _fill_row, _window

SMALL_SCREEN_HEIGHT = 768
TITLE_AND_TASKBAR = 80  # a window title bar plus a taskbar on a 768 px tall screen


def _editor(section: Any, row: int, column: int) -> QLineEdit:
    editor = section.table.cellWidget(row, column)
    assert isinstance(editor, QLineEdit)
    return editor


def _urls(section: Any) -> list[str]:
    return [_editor(section, row, 0).text() for row in range(section.table.rowCount())]


def _text_room(editor: QLineEdit) -> int:
    """The width a line edit has for its text (inside its frame and text margins)."""
    option = QStyleOptionFrame()
    editor.initStyleOption(option)
    contents = editor.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, editor)
    margins = editor.textMargins()
    return contents.width() - margins.left() - margins.right() - 4  # QLineEdit's 2 px each side


def test_remove_takes_the_row_whose_field_was_clicked(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = _choose_servers(
        win, [("http://a:8188", "", ""), ("http://b:8188", "", ""), ("http://c:8188", "", "")]
    )
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    section = dialog.servers
    section.table.setCurrentCell(-1, -1)  # as the dialog opens with saved servers: none chosen yet
    assert not section.remove_button.isEnabled()  # it would remove nothing: it says to click a field
    assert "Click a server's field" in section.remove_button.toolTip()
    name = _editor(section, 1, 1)
    qtbot.mouseClick(name, Qt.MouseButton.LeftButton, pos=QPoint(5, name.height() // 2))
    qtbot.mouseClick(section.remove_button, Qt.MouseButton.LeftButton)
    assert _urls(section) == ["http://a:8188", "http://c:8188"]
    url = _editor(section, 1, 0)  # the row now second ("c"), clicked in its URL field
    qtbot.mouseClick(url, Qt.MouseButton.LeftButton, pos=QPoint(5, url.height() // 2))
    qtbot.mouseClick(section.remove_button, Qt.MouseButton.LeftButton)
    assert _urls(section) == ["http://a:8188"]
    dialog.reject()
    win.close()


def test_name_and_token_columns_show_what_is_typed(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = _choose_servers(win, [("http://10.0.0.7:8188", "Workstation 12", "abcdefghijklmnop")])
    qtbot.waitExposed(dialog)
    section = dialog.servers
    name, token = _editor(section, 0, 1), _editor(section, 0, 2)
    qtbot.waitUntil(lambda: token.width() >= section.table.columnWidth(2) - 2)  # laid out
    assert name.fontMetrics().horizontalAdvance("Workstation 12") <= _text_room(name)
    dot = chr(token.style().styleHint(QStyle.StyleHint.SH_LineEdit_PasswordCharacter, None, token))
    assert token.fontMetrics().horizontalAdvance(dot * 16) <= _text_room(token)
    header = section.table.horizontalHeader()  # URL and status take the room left
    url = _editor(section, 0, 0)
    assert url.fontMetrics().horizontalAdvance("http://192.168.100.200:8188") <= _text_room(url)
    assert header.sectionResizeMode(0) == header.sectionResizeMode(3) == header.ResizeMode.Stretch
    dialog.reject()
    win.close()


def test_the_dialog_fits_a_1366x768_screen_with_ok_and_cancel_on_it(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = _choose_servers(win, [("http://a:8188", "", ""), ("http://b:8188", "GPU box", "")])
    room = SMALL_SCREEN_HEIGHT - TITLE_AND_TASKBAR
    assert dialog.minimumSizeHint().height() <= room
    assert dialog.sizeHint().height() <= room
    assert dialog.sizeHint().width() <= 1366
    dialog.resize(dialog.sizeHint())
    qtbot.waitExposed(dialog)
    buttons = dialog.findChild(QDialogButtonBox)
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isVisible() and ok.mapTo(dialog, QPoint(0, ok.height())).y() <= dialog.height()
    dialog.reject()
    win.close()


def test_a_token_over_plain_http_to_another_host_is_warned_about_not_refused(
    qtbot: Any, user_dirs: Any, answers: Any
) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = _choose_servers(
        win, [("http://127.0.0.1:8188", "", "tok"), ("https://gpu.example:443", "", "tok")]
    )
    section = dialog.servers
    assert section.warning.isHidden()  # loopback, or https: nothing to say
    row = section.add_server()
    _fill_row(section, row, "http://10.0.0.7:8188", "GPU box", "tok")
    assert not section.warning.isHidden()
    text = section.warning.text()
    assert "GPU box" in text and "http://" in text and "\n" not in text
    section.test_button.click()
    qtbot.waitUntil(lambda: section.tests_pending == 0, timeout=5000)
    assert section.status_text(0) == "✓ ComfyUI 0.3.75, 1 CPU, queue 0"
    assert section.status_text(row).startswith("✓ ComfyUI 0.3.75")
    assert "unencrypted" in section.status_text(row)
    _editor(section, row, 2).setText("")  # no token: nothing travels
    assert section.warning.isHidden()
    _editor(section, row, 2).setText("tok")
    dialog.accept()  # never refused
    assert not dialog.isVisible()
    assert win.settings.comfyui_servers[-1].url == "http://10.0.0.7:8188"
    win.close()


def test_a_bad_server_list_shows_its_tab_with_the_reason(qtbot: Any, user_dirs: Any, answers: Any) -> None:
    win = _window(qtbot, answers, FakeServers(), [])
    dialog = _choose_servers(win, [("http://host:notaport", "", "")])
    dialog.tabs.setCurrentIndex(0)  # the artist is on "General" when pressing OK
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Run jobs on"
    assert dialog.servers.error.isVisible() and dialog.servers.error.text().startswith("Server 1:")
    dialog.reject()
    win.close()
