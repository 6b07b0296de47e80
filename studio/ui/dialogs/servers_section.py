"""The Settings dialog's "Run jobs on" section: this computer, or a list of ComfyUI servers.

Each server row is a URL, an optional name and an optional bearer token (shown as dots; stored in
its own 0600 file by the app, never in settings.json). "Test" asks every listed server for its
/system_stats off the GUI thread (`ServerServices.probe`) and writes the answer in the row's status
("ComfyUI 0.3.4, 1 CPU, queue 0") or what went wrong. "Remove" takes the row whose field was clicked
last (off until one is). A token that would go over plain http:// to another computer is warned about
under the list and in the row's status, never refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionFrame,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.remote_servers import (
    RUN_COMFYUI,
    RUN_LOCAL,
    RemoteServer,
    check_server_url,
    token_sent_in_clear,
)
from studio.ui.servers import BackgroundCalls

log = logging.getLogger(__name__)
URL, NAME, TOKEN, STATUS = range(4)
HEADERS = ("Server URL", "Name", "Token", "Status")
URL_ROOM = "http://192.168.100.200:8188"  # the URL column shows a URL this long whole
NAME_ROOM = "Workstation 12"  # the Name column shows a name this long whole
TOKEN_DOTS = 16  # the Token column shows this many password dots whole
CELL_MARGIN = 4
IN_CLEAR_NOTE = "⚠ token sent unencrypted (http://)"


class ServersSection(QGroupBox):
    """Choose local or remote and edit the servers; `run_on()` / `servers()` read it back."""

    def __init__(
        self,
        run_on: str,
        servers: Sequence[RemoteServer],
        probe: Callable[[RemoteServer], str] | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Run jobs on", parent)
        self._probe = probe
        self._calls = BackgroundCalls(self)
        self._calls.done.connect(lambda token, text: self._set_status(token, f"✓ {text}"))
        self._calls.failed.connect(lambda token, text: self._set_status(token, f"✗ {text}"))
        self._test_round = 0
        self.local = QRadioButton("This computer")
        self.local.setToolTip("Jobs run on this computer's CPU or GPU")
        self.remote = QRadioButton("ComfyUI servers")
        self.remote.setToolTip(
            "Jobs run on the ComfyUI servers listed below (the least busy one first); if a server "
            "goes away during a job, the job moves to another one"
        )
        group = QButtonGroup(self)
        group.addButton(self.local)
        group.addButton(self.remote)
        (self.remote if run_on == RUN_COMFYUI else self.local).setChecked(True)
        self.table = self._build_table(servers)
        self.add_button, self.remove_button = QPushButton("Add server"), QPushButton("Remove")
        self.test_button = QPushButton("Test")
        self.test_button.setToolTip("Ask each server for its version, devices and queue")
        self.test_button.setEnabled(probe is not None)
        self.add_button.clicked.connect(lambda: self.add_server())
        self.remove_button.clicked.connect(self._remove_selected)
        self.test_button.clicked.connect(self.test)
        self.error = QLabel("")
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        self.warning = QLabel("")
        self.warning.setObjectName("warningLabel")
        self.warning.setVisible(False)
        self._layout()
        self.remote.toggled.connect(self._enable_list)
        self.table.currentCellChanged.connect(lambda *_: self._enable_list(self.remote.isChecked()))
        self._enable_list(self.remote.isChecked())
        self._warn_tokens_in_clear()

    def _build_table(self, servers: Sequence[RemoteServer]) -> QTableWidget:
        table = QTableWidget(0, len(HEADERS))
        table.setHorizontalHeaderLabels(HEADERS)
        table.verticalHeader().setVisible(False)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = table.horizontalHeader()
        header.setSectionResizeMode(URL, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        table.setColumnWidth(NAME, _editor_width(NAME_ROOM))
        table.setColumnWidth(TOKEN, _editor_width(TOKEN_DOTS * "x", password=True))
        stretched = 2 * _editor_width(URL_ROOM)  # the URL and status columns share what is left
        chrome = 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
        table.setMinimumWidth(table.columnWidth(NAME) + table.columnWidth(TOKEN) + stretched + chrome)
        table.setMinimumHeight(110)
        table.setMaximumHeight(150)
        self.table = table
        for server in servers:
            self.add_server(server)
        return table

    def _layout(self) -> None:
        choice = QHBoxLayout()
        choice.addWidget(self.local)
        choice.addWidget(self.remote)
        choice.addStretch(1)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.test_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        note = QLabel("Tokens are kept in their own file that only you can read, never in settings.json.")
        note.setObjectName("dimLabel")
        layout = QVBoxLayout(self)
        layout.addLayout(choice)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(note)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)

    def _enable_list(self, remote: bool) -> None:
        for widget in (self.table, self.add_button):
            widget.setEnabled(remote)
        self.remove_button.setEnabled(remote and self.table.currentRow() >= 0)
        self.remove_button.setToolTip(
            "Remove the server whose field you clicked last"
            if self.table.currentRow() >= 0
            else "Click a server's field first, then Remove"
        )
        self.test_button.setEnabled(remote and self._probe is not None)

    # -- rows -------------------------------------------------------------------------------------
    def add_server(self, server: RemoteServer | None = None) -> int:
        """A row for `server` (an empty one to type into when None); returns its index."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        url, name, token = QLineEdit(), QLineEdit(), QLineEdit()
        url.setPlaceholderText("http://127.0.0.1:8188")
        name.setPlaceholderText("optional")
        token.setPlaceholderText("optional")
        token.setEchoMode(QLineEdit.EchoMode.Password)
        token.setToolTip("A bearer token, for a server behind an authenticating proxy")
        if server is not None:
            url.setText(server.url)
            name.setText(server.name)
            token.setText(server.token)
        for column, editor in ((URL, url), (NAME, name), (TOKEN, token)):
            editor.setCursorPosition(0)  # a long token shows its first dots, not a cut one
            editor.textChanged.connect(self._warn_tokens_in_clear)
            self.table.setCellWidget(row, column, editor)
        self.table.setItem(row, STATUS, QTableWidgetItem(""))
        if server is None:
            url.setFocus()
        return row

    def _remove_selected(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self._test_round += 1  # replies of a test in progress would land on the wrong rows
            self.table.removeRow(row)
            self._warn_tokens_in_clear()

    def _editor(self, row: int, column: int) -> QLineEdit:
        editor = self.table.cellWidget(row, column)
        assert isinstance(editor, QLineEdit)
        return editor

    def _row_server(self, row: int) -> RemoteServer | None:
        """The row's server as typed (None when its URL is empty or bad)."""
        try:
            url = check_server_url(self._editor(row, URL).text())
        except ValueError:
            return None
        name, token = self._editor(row, NAME).text().strip(), self._editor(row, TOKEN).text().strip()
        return RemoteServer(url, name, token)

    def _rows_in_clear(self) -> list[RemoteServer]:
        servers = (self._row_server(row) for row in range(self.table.rowCount()))
        return [s for s in servers if s is not None and token_sent_in_clear(s)]

    def _warn_tokens_in_clear(self) -> None:
        """One line under the list naming the servers whose token would travel unencrypted."""
        exposed = self._rows_in_clear()
        labels = ", ".join(s.label for s in exposed[:2]) + (
            f" (+{len(exposed) - 2})" if len(exposed) > 2 else ""
        )
        self.warning.setText(
            f"⚠ {labels}: the token goes over plain http://, unencrypted; use https:// to keep it private."
        )
        self.warning.setToolTip(
            "Anyone on the network between here and the server can read a token sent over http://"
        )
        self.warning.setVisible(bool(exposed))

    def _set_status(self, token: object, text: str) -> None:
        round_, row = token if isinstance(token, tuple) else (None, -1)
        if round_ == self._test_round and 0 <= row < self.table.rowCount():
            server = self._row_server(row)
            if server is not None and token_sent_in_clear(server):
                text = f"{text} — {IN_CLEAR_NOTE}"
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(row, STATUS, item)

    # -- reading back -----------------------------------------------------------------------------
    def run_on(self) -> str:
        return RUN_COMFYUI if self.remote.isChecked() else RUN_LOCAL

    def servers(self) -> tuple[RemoteServer, ...]:
        """The rows as servers (empty rows skipped); ValueError naming the first bad URL."""
        servers: list[RemoteServer] = []
        for row in range(self.table.rowCount()):
            text = self._editor(row, URL).text()
            if not text.strip():
                continue
            try:
                url = check_server_url(text)
            except ValueError as exc:
                raise ValueError(f"Server {row + 1}: {exc}") from None
            name, token = self._editor(row, NAME).text().strip(), self._editor(row, TOKEN).text().strip()
            if all(s.url != url for s in servers):
                servers.append(RemoteServer(url, name, token))
        return tuple(servers)

    def check(self) -> bool:
        """Whether the section can be saved; if not, the reason is shown under the list."""
        try:
            servers = self.servers()
            if self.run_on() == RUN_COMFYUI and not servers:
                raise ValueError("Add a ComfyUI server, or run jobs on this computer.")
        except ValueError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            return False
        self.error.setVisible(False)
        return True

    def test(self) -> None:
        """Probe every row's server off the GUI thread; each answer lands in its row's status."""
        if self._probe is None:
            return
        self._test_round += 1
        probe = self._probe
        for row in range(self.table.rowCount()):
            text = self._editor(row, URL).text()
            if not text.strip():
                continue
            try:
                server = RemoteServer(check_server_url(text), token=self._editor(row, TOKEN).text().strip())
            except ValueError as exc:
                self.table.setItem(row, STATUS, QTableWidgetItem(f"✗ {exc}"))
                continue
            self.table.setItem(row, STATUS, QTableWidgetItem("Testing…"))
            self._calls.run((self._test_round, row), partial(probe, server))

    @property
    def tests_pending(self) -> int:
        return self._calls.pending

    def status_text(self, row: int) -> str:
        item = self.table.item(row, STATUS)
        return item.text() if item is not None else ""


def _editor_width(text: str, password: bool = False) -> int:
    """How wide a cell's line edit must be to show `text` whole (as dots when `password`), in the
    application's font and style sheet (its padding and frame)."""
    probe = QLineEdit()
    probe.ensurePolished()
    if password:
        dot = probe.style().styleHint(QStyle.StyleHint.SH_LineEdit_PasswordCharacter, None, probe)
        text = chr(dot) * len(text)
    option = QStyleOptionFrame()
    probe.initStyleOption(option)
    contents = probe.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, probe)
    margins = probe.textMargins()
    chrome = option.rect.width() - contents.width() + margins.left() + margins.right() + 4  # 2 px a side
    return probe.fontMetrics().horizontalAdvance(text) + chrome + CELL_MARGIN
