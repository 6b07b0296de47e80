"""One server's thread: keeps its WebSocket open (reconnecting with backoff), takes jobs from the
engine one at a time and runs them (`run.run_job`).

A lost server (closed socket, no answer to pings within seconds, HTTP calls failing) is reported to
the engine with the job it was running, which goes on elsewhere; the worker then reconnects with
backoff (1 s, 2 s, 4 s ... at most `MAX_BACKOFF`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from studio.core.events import Event, JobHandle
from studio.remote import validate
from studio.remote.client import ComfyClient, Socket
from studio.remote.errors import RemoteError, ServerUnreachable
from studio.remote.run import RemoteJob, run_job
from studio.remote.servers import ServerConfig, ServerStatus

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0
STATUS_INTERVAL = 2.0  # seconds between /queue polls while idle (for least-busy dispatch)
RECV_TIMEOUT = 0.02  # how long a socket read waits: bounds how late a new job or a cancel is seen


class Dispatcher(Protocol):
    """What a worker needs of the engine."""

    def take(self, worker: ServerWorker) -> RemoteJob | None: ...
    def finish(self, job: RemoteJob, outcome: Event, worker: ServerWorker) -> None: ...
    def lost(self, job: RemoteJob, worker: ServerWorker, reason: str) -> None: ...
    def server_down(self, worker: ServerWorker) -> None: ...
    def emit(self, event: Event, handle: JobHandle) -> None: ...


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
        self._thread = threading.Thread(target=self._loop, name=f"studio-remote-{server.name}", daemon=True)

    def __repr__(self) -> str:
        return f"<ServerWorker {self.server.name} {'up' if self.reachable else 'down'}>"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

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
            try:
                self._serve(sock)
            except RemoteError as exc:
                self._down(str(exc))
            finally:
                sock.close()
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

    def _serve(self, sock: Socket) -> None:
        last_poll = time.monotonic()
        while not self._stop.is_set():
            job = self._dispatcher.take(self)
            if job is None:
                sock.receive()  # keeps the connection checked (pings) while idle
                if time.monotonic() - last_poll >= STATUS_INTERVAL:
                    self._poll()
                    last_poll = time.monotonic()
                continue
            with self._lock:
                self.current = job
            self._run(job, sock)

    def _run(self, job: RemoteJob, sock: Socket) -> None:
        try:
            outcome = run_job(job, self.client, sock, self._dispatcher.emit)
        except ServerUnreachable as exc:
            with self._lock:
                self.current = None
            self._dispatcher.lost(job, self, str(exc))
            raise
        except Exception as exc:
            outcome = self._failure(job, exc)
        with self._lock:
            self.current = None
        self._dispatcher.finish(job, outcome, self)
