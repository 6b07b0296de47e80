"""Which ComfyUI servers to use: `ServerConfig` (URL, optional bearer token, label), URL checks, and
`ServerStatus` (what the UI shows about each server).

URLs are normalised to ``scheme://host[:port][/path]`` without a trailing slash; ``http`` and
``https`` only (the WebSocket uses ``ws`` / ``wss`` to match). A bare ``host:port`` means http.
The token never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

DEFAULT_PORT = 8188
_SCHEMES = {"http": "ws", "https": "wss"}


def parse_server_url(text: str) -> str:
    """`text` as a normalised server URL; raises ValueError with a message the artist can act on."""
    raw = (text or "").strip()
    if not raw:
        raise ValueError("The server address is empty: enter a URL such as http://127.0.0.1:8188.")
    if any(ch.isspace() for ch in raw):
        raise ValueError(f"The server address {raw!r} contains spaces; enter a URL such as http://host:8188.")
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"The server address {text.strip()!r} uses {scheme!r}; use http:// or https:// "
            "(Studio connects its WebSocket with ws:// or wss:// to match)."
        )
    if parts.username or parts.password:
        raise ValueError(
            "Put no user name or password in the server address; a token goes in the server's token field."
        )
    if parts.query or parts.fragment:
        raise ValueError(f"The server address {text.strip()!r} has a query or fragment; remove it.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ValueError(f"The server address {text.strip()!r} has an invalid port: {exc}.") from exc
    if not host:
        raise ValueError(f"The server address {text.strip()!r} has no host name.")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))


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
