"""One server's thread: keeps its WebSocket open (reconnecting with backoff), takes jobs from the
engine one at a time and runs them (`run.run_job`).

The WebSocket is read by a thread of its own (`Inbox`) into a queue that the engine can also wake
(`ServerWorker.wake`: a job to take, a cancel), so a new job or a cancel is seen at once, not after a
socket read times out.

A lost server (closed socket, no answer to pings within seconds, HTTP calls failing) is reported to
the engine with the job it was running, which goes on elsewhere; the worker then reconnects with
backoff (1 s, 2 s, 4 s ... at most `MAX_BACKOFF`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Protocol

from studio.core.events import Event, JobHandle
from studio.remote import validate
from studio.remote.client import ComfyClient, Message, Preview, Socket
from studio.remote.errors import BadReply, RemoteError, ServerGone, ServerUnreachable
from studio.remote.run import RemoteJob, run_job
from studio.remote.servers import ServerConfig, ServerStatus

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
STATUS_INTERVAL = 2.0  # seconds between /queue polls while idle (for least-busy dispatch)
RECV_TIMEOUT = 1.0  # seconds a read waits (a new job or a cancel wakes the worker at once: `wake`)


class Dispatcher(Protocol):
    """What a worker needs of the engine."""

    def take(self, worker: ServerWorker) -> RemoteJob | None: ...  # sets worker.current
    def finish(self, job: RemoteJob, outcome: Event, worker: ServerWorker) -> None: ...  # clears it
    def lost(self, job: RemoteJob, worker: ServerWorker, reason: str) -> None: ...  # clears it
    def server_down(self, worker: ServerWorker) -> None: ...
    def emit(self, event: Event, handle: JobHandle) -> None: ...


class Inbox:
    """A connection's messages, read by their own thread, and the engine's wake-ups (`wake`).

    `receive()` gives the next message, None after `RECV_TIMEOUT` or a wake-up, and raises the
    reader's `RemoteError`: a malformed message (the reader goes on) or the connection lost (it ends).
    """

    def __init__(self, sock: Socket, name: str) -> None:
        self._sock = sock
        self._queue: queue.SimpleQueue[Message | Preview | RemoteError | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read, name=f"studio-remote-ws-{name}", daemon=True)
        self._reader.start()

    def receive(self) -> Message | Preview | None:
        try:
            item = self._queue.get(timeout=RECV_TIMEOUT)
        except queue.Empty:
            if not self._reader.is_alive() and self._queue.empty():
                raise ServerGone("The connection to the ComfyUI server was closed.") from None
            return None
        if isinstance(item, RemoteError):
            raise item
        return item

    def wake(self) -> None:
        self._queue.put(None)

    def close(self) -> None:
        self._sock.close()
        self._reader.join(2)

    def _read(self) -> None:
        while True:
            try:
                item = self._sock.receive()
            except BadReply as exc:  # one bad message: say so, read on
                self._queue.put(exc)
                continue
            except RemoteError as exc:  # the connection is gone
                self._queue.put(exc)
                return
            except Exception as exc:  # never leave the queue silent
                self._queue.put(ServerGone(f"Reading from the ComfyUI server failed: {exc}"))
                return
            if item is not None:
                self._queue.put(item)


class ServerWorker:
    def __init__(
        self,
        server: ServerConfig,
        dispatcher: Dispatcher,
        *,
        connect_timeout: float = 5.0,
        silence_limit: float = 8.0,
        failure: Callable[[RemoteJob, BaseException], Event],
    ) -> None:
        self.server = server
        self.client = ComfyClient(server, connect_timeout=connect_timeout)
        self._dispatcher = dispatcher
        self._silence_limit = silence_limit
        self._failure = failure
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.reachable = False
        self.tried = False  # a first connection attempt has ended (either way)
        self.queue_length = 0
        self.free_vram = 0
        self.current: RemoteJob | None = None
        self.last_error = ""
        self._inbox: Inbox | None = None
        self._thread = threading.Thread(target=self._loop, name=f"studio-remote-{server.name}", daemon=True)

    def __repr__(self) -> str:
        return f"<ServerWorker {self.server.name} {'up' if self.reachable else 'down'}>"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake()

    def wake(self) -> None:
        """Have the worker look for a job (or a cancel) now."""
        inbox = self._inbox
        if inbox is not None:
            inbox.wake()

    def join(self, timeout: float) -> bool:
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> ServerStatus:
        with self._lock:
            job = self.current.id if self.current is not None else 0
            return ServerStatus(
                self.server.url, self.server.name, self.reachable, self.queue_length, job, self.last_error
            )

    @property
    def idle(self) -> bool:
        return self.reachable and self.current is None

    # ---- the thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                sock = self._connect()
            except RemoteError as exc:
                self._down(str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            inbox = self._inbox = Inbox(sock, self.server.name)
            try:
                self._serve(inbox)
            except RemoteError as exc:
                self._down(str(exc))
            finally:
                self._inbox = None
                inbox.close()
        self.client.close()

    def _connect(self) -> Socket:
        sock = self.client.socket(RECV_TIMEOUT, self._silence_limit)
        try:
            self._poll()
        except RemoteError:
            sock.close()
            raise
        with self._lock:
            self.reachable, self.tried, self.last_error = True, True, ""
        log.info("Connected to the ComfyUI server %s", self.server.name)
        return sock

    def _down(self, reason: str) -> None:
        with self._lock:
            was_up = self.reachable
            self.reachable, self.tried, self.last_error = False, True, reason
        if was_up:
            log.warning("ComfyUI server %s is unreachable: %s", self.server.name, reason)
        self._dispatcher.server_down(self)

    def _poll(self) -> None:
        length = self.client.queue_length()
        vram = validate.free_vram(self.client.system_stats())
        with self._lock:
            self.queue_length, self.free_vram = length, vram

    def _serve(self, inbox: Inbox) -> None:
        last_poll = time.monotonic()
        while not self._stop.is_set():
            job = self._dispatcher.take(self)
            if job is None:
                try:
                    inbox.receive()  # a wake-up, a message for no job of ours, or a lost connection
                except BadReply as exc:
                    log.warning("%s: %s", self.server.name, exc)
                if time.monotonic() - last_poll >= STATUS_INTERVAL:
                    self._poll()
                    last_poll = time.monotonic()
                continue
            self._run(job, inbox)

    def _run(self, job: RemoteJob, inbox: Inbox) -> None:
        try:
            outcome = run_job(job, self.client, inbox, self._dispatcher.emit)
        except ServerUnreachable as exc:
            self._dispatcher.lost(job, self, str(exc))  # clears `current`, under the engine's lock
            raise
        except Exception as exc:
            outcome = self._failure(job, exc)
        self._dispatcher.finish(job, outcome, self)  # clears `current`, then publishes the outcome
