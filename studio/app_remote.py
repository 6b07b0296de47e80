"""The composition root's side of ComfyUI servers (issue 16): where the app and the CLI meet studio.remote.

- `server_configs`: the settings' servers (core.remote_servers.RemoteServer, tokens from their own
  file) as the remote engine's `ServerConfig`s;
- `remote_engine`: a `RemoteEngine` over them (the app's engine factory builds it when the settings
  say jobs run on ComfyUI servers, the CLI with `--server`);
- `probe_server` ("ComfyUI 0.3.4, 1 CPU, queue 0", the Settings dialog's "Test") and `list_checkpoints`
  (the model picker's list): blocking HTTP, which the window runs off the GUI thread
  (`ui.servers.ServerServices`).

The UI never imports this module nor studio.remote (import-linter); it gets these functions from app.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from studio.core.remote_servers import RemoteServer

if TYPE_CHECKING:  # studio.remote imports requests and websocket-client: only when used
    from studio.core.events import Event
    from studio.remote.engine import RemoteEngine
    from studio.remote.servers import ServerConfig

log = logging.getLogger(__name__)
PROBE_TIMEOUT = 5.0  # seconds to connect


def server_configs(servers: Sequence[RemoteServer]) -> list[ServerConfig]:
    """The remote engine's configs for `servers`; ValueError naming a URL it cannot use."""
    from studio.remote.servers import ServerConfig

    return [ServerConfig(url=s.url, token=s.token, name=s.name) for s in servers]


def remote_engine(publish: Callable[[Event], None], servers: Sequence[RemoteServer]) -> RemoteEngine:
    from studio.remote.engine import RemoteEngine

    log.info("Jobs run on ComfyUI servers: %s", ", ".join(s.url for s in servers))
    return RemoteEngine(publish, server_configs(servers))


def probe_server(server: RemoteServer) -> str:
    """One line about a server: its ComfyUI version, devices and queue; raises RemoteError (a message
    for the artist) when it cannot be reached or is not ComfyUI."""
    from studio.remote.client import ComfyClient

    client = ComfyClient(
        server_configs([server])[0], connect_timeout=PROBE_TIMEOUT, read_timeout=PROBE_TIMEOUT
    )
    try:
        stats = client.system_stats()
        queue = client.queue_length()
    finally:
        client.close()
    return describe_server(stats, queue)


def describe_server(stats: dict[str, object], queue: int) -> str:
    """ "ComfyUI 0.3.4, 1 GPU, queue 0" from a checked /system_stats answer and the queue length."""
    system = stats.get("system")
    version = system.get("comfyui_version") if isinstance(system, dict) else None
    devices = stats.get("devices")
    kinds = [
        "CPU" if isinstance(d, dict) and str(d.get("type", "")).lower() == "cpu" else "GPU"
        for d in (devices if isinstance(devices, list) else [])
    ]
    counted = ", ".join(f"{kinds.count(k)} {k}" for k in ("GPU", "CPU") if k in kinds) or "no device listed"
    name = f"ComfyUI {version}" if isinstance(version, str) and version else "ComfyUI"
    return f"{name[:60]}, {counted}, queue {queue}"


def list_checkpoints(servers: Sequence[RemoteServer]) -> list[str]:
    """The checkpoints the servers list (the first server's order, then any the others add). A server
    that cannot be reached is skipped; with none reachable, the first one's error is raised."""
    from studio.remote.client import ComfyClient, merged_checkpoints

    clients = [ComfyClient(config, connect_timeout=PROBE_TIMEOUT) for config in server_configs(servers)]
    try:
        names, errors = merged_checkpoints(clients)
    finally:
        for client in clients:
            client.close()
    if errors and len(errors) == len(clients):
        raise errors[0]
    return names
