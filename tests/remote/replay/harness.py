"""Studio's RemoteEngine against the REPLAY server, for the replay and bad-server tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from studio.core.events import Event
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig
from tests.remote.replay.server import Fault, ReplayServer
from tests.remote.replay.transcript import load


@dataclass
class Session:
    engine: RemoteEngine
    replay: ReplayServer
    events: list[Event] = field(default_factory=list)  # everything the engine published, in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, job_id: int) -> list[Event]:
        with self.lock:
            return [e for e in self.events if e.job_id == job_id]


@contextmanager
def replay_session(
    scenario: str,
    faults: list[Fault] | None = None,
    *,
    port: int = 0,
    silence_limit: float = 8.0,
    preview_delay: float = 0.0,
) -> Iterator[Session]:
    """A started RemoteEngine whose only server is the replay of `scenario`'s transcript."""
    replay = ReplayServer(load(scenario), faults=faults, port=port, preview_delay=preview_delay)
    replay.start()
    events: list[Event] = []
    lock = threading.Lock()

    def publish(event: Event) -> None:
        with lock:
            events.append(event)

    engine = RemoteEngine(
        publish, [ServerConfig(replay.url)], connect_timeout=2.0, silence_limit=silence_limit
    )
    engine.start()
    try:
        yield Session(engine, replay, events, lock)
    finally:
        engine.shutdown(5.0)
        replay.close()
