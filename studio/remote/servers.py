"""Which ComfyUI servers to use: `ServerConfig` (URL, optional bearer token, label), URL checks, and
`ServerStatus` (what the UI shows about each server).

URLs are normalised to ``scheme://host[:port][/path]`` without a trailing slash; ``http`` and
``https`` only (the WebSocket uses ``ws`` / ``wss`` to match). A bare ``host:port`` means http.
The token never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from studio.core.remote_servers import check_server_url

_SCHEMES = {"http": "ws", "https": "wss"}


def parse_server_url(text: str) -> str:
    """`text` as a normalised server URL (`studio.core.remote_servers.check_server_url`, the settings'
    own check); raises ValueError with a message the artist can act on."""
    return check_server_url(text)


def websocket_url(url: str) -> str:
    """The ws:// or wss:// URL of a normalised http(s) server URL (its path kept)."""
    parts = urlsplit(url)
    return urlunsplit((_SCHEMES[parts.scheme], parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class ServerConfig:
    """One ComfyUI server. Construct it with any URL form `parse_server_url` accepts."""

    url: str
    token: str = field(default="", repr=False)  # optional bearer token: never logged, never in repr
    name: str = ""  # label shown in the UI (defaults to host:port)

    def __post_init__(self) -> None:
        object.__setattr__(self, "url", parse_server_url(self.url))
        if not isinstance(self.token, str) or any(ch in self.token for ch in "\r\n"):
            raise ValueError("The server token must be one line of text.")
        object.__setattr__(self, "token", self.token.strip())
        if not self.name:
            object.__setattr__(self, "name", urlsplit(self.url).netloc)

    @property
    def ws_url(self) -> str:
        return websocket_url(self.url)

    def headers(self) -> dict[str, str]:
        """HTTP headers for every request (the bearer token when there is one)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass(frozen=True)
class ServerStatus:
    """What the UI shows about one server."""

    url: str
    name: str
    reachable: bool
    queue_length: int = 0  # prompts running or waiting on the server (every client's)
    running_job: int = 0  # id of the Studio job it runs now (0: none)
    last_error: str = ""  # the last problem, for the artist ("" when none)
