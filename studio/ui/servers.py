"""What the window needs of ComfyUI servers (issue 16), without knowing the remote engine.

The UI never imports `studio.remote`: app.py hands the window a `ServerServices` (a probe for the
Settings dialog's "Test" and the servers' checkpoint list for the model picker). Both block on the
network, so they run through `BackgroundCalls`, whose results come back as queued signals on the GUI
thread, each with the token the caller gave (a reply for a question no longer asked is ignored there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from studio.core.remote_servers import RemoteServer
from studio.ui.widgets.model_picker import ModelPicker

log = logging.getLogger(__name__)
RETRY_MS = 10_000  # servers that could not list their models are asked again after this long


@dataclass(frozen=True)
class ServerServices:
    """Blocking calls to ComfyUI servers (run them off the GUI thread). Each raises an exception whose
    text is a message for the artist when the server cannot be used."""

    probe: Callable[[RemoteServer], str]  # "ComfyUI 0.3.4, 1 GPU, queue 0"
    models: Callable[[Sequence[RemoteServer]], list[str]]  # the checkpoints the servers list


class BackgroundCalls(QObject):
    """Runs blocking calls on worker threads; `done(token, result)` or `failed(token, message)` on
    the GUI thread."""

    done = Signal(object, object)
    failed = Signal(object, str)
    _finished = Signal(object, bool, object)  # token, ok, result or message: queued to the GUI thread

    def __init__(self, parent: QObject | None = None, workers: int = 4) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="server-call")
        self.pending = 0  # calls not yet reported (GUI thread)
        self._finished.connect(self._deliver)  # a bound method of this GUI-thread object: queued

    def run(self, token: object, call: Callable[[], object]) -> None:
        self.pending += 1
        future = self._pool.submit(call)
        future.add_done_callback(lambda finished: self._report(token, finished))

    def _report(self, token: object, finished: Future[object]) -> None:
        """On the worker thread: the signals are queued to the receivers on the GUI thread."""
        try:
            result, ok = finished.result(), True
        except Exception as exc:  # every failure becomes a message, never a traceback in the UI
            log.info("A server call failed: %s", one_line(exc))
            result, ok = one_line(exc), False
        try:
            self._finished.emit(token, ok, result)
        except RuntimeError:  # the asking dialog was closed and deleted meanwhile
            log.debug("A server call ended after its receiver was gone")

    def _deliver(self, token: object, ok: bool, value: object) -> None:
        self.pending = max(0, self.pending - 1)
        if ok:
            self.done.emit(token, value)
        else:
            self.failed.emit(token, str(value))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


class ServerModelList(QObject):
    """Fills the model picker with the servers' checkpoints, fetched off the GUI thread; the picker
    shows "Loading…" meanwhile and the reason when they cannot be listed (asked again every
    `retry_ms` until they answer: a server started after the window). The chosen model (`model`,
    `choose`: the view-model's) becomes the first checkpoint when the servers do not list it."""

    def __init__(
        self,
        picker: ModelPicker,
        services: ServerServices,
        model: Callable[[], str],
        choose: Callable[[str], None],
        parent: QObject | None = None,
        retry_ms: int = RETRY_MS,
    ) -> None:
        super().__init__(parent)
        self.retry_ms = retry_ms
        self._servers: tuple[RemoteServer, ...] = ()
        self._picker, self._services = picker, services
        self._model, self._choose = model, choose
        self._calls = BackgroundCalls(self, workers=1)
        self._calls.done.connect(self._show)
        self._calls.failed.connect(self._show_error)
        self._round = 0
        self.names: list[str] = []

    @property
    def pending(self) -> int:
        return self._calls.pending

    def refresh(self, servers: Sequence[RemoteServer]) -> None:
        self._round += 1
        self._servers = wanted = tuple(servers)
        self._picker.show_placeholder("Loading the servers' models…")
        self._calls.run(self._round, lambda: self._services.models(wanted))

    def forget(self) -> None:
        """Jobs run locally again: a reply still on its way is ignored."""
        self._round += 1

    def _show(self, token: object, names: object) -> None:
        if token != self._round or not isinstance(names, list):
            return
        self.names = [str(n) for n in names]
        if not self.names:
            self._picker.show_placeholder(
                "No checkpoints on the servers", "The ComfyUI servers list no checkpoint (models/checkpoints)"
            )
            return
        self._picker.show_server_models(self.names)
        model = self._model() if self._model() in self.names else self.names[0]
        self._choose(model)
        self._picker.set_ref(model)

    def _show_error(self, token: object, message: str) -> None:
        if token != self._round:
            return
        self._picker.show_placeholder(
            "Server models unavailable", f"Could not list the servers' models: {message}"
        )
        QTimer.singleShot(self.retry_ms, self, lambda: self._retry(token))

    def _retry(self, token: object) -> None:
        if token == self._round:  # nothing newer asked meanwhile (settings changed, back to local)
            self._round += 1
            wanted = self._servers
            self._calls.run(self._round, lambda: self._services.models(wanted))

    def shutdown(self) -> None:
        self._calls.shutdown()
