"""Where jobs run: this computer, or ComfyUI servers (issue 16) — the settings' side of it.

`RemoteServer` is one server as the settings keep it (URL, optional label, optional bearer token;
`token_sent_in_clear` says when that token would travel unencrypted).
The settings JSON holds URLs and labels only; tokens live in their own user-config file
(`TOKENS_FILE`, a JSON object {url: token}) written with permissions 0600 and never logged
(`load_tokens` / `save_tokens` / `with_tokens`). `check_server_url` normalises what the artist typed
(http/https, a host, an optional port; nothing else) and says what is wrong with a bad one; a settings
file with one bad URL keeps the others (`servers_from_json`).

Pure Python: the remote engine (studio.remote) gets these as its own `ServerConfig` in the app's wiring.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from studio.core.fileio import TEMP_SUFFIX, JSONDict
from studio.core.jsontext import parse_json

log = logging.getLogger(__name__)

RUN_LOCAL = "local"
RUN_COMFYUI = "comfyui"
RUN_ON = (RUN_LOCAL, RUN_COMFYUI)  # the settings' `run_on` choices
TOKENS_FILE = "comfyui_tokens.json"  # in the config folder, beside settings.json
TOKEN_FILE_MODE = 0o600
MAX_TOKEN_FILE_BYTES = 1 << 20
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RemoteServer:
    """A ComfyUI server jobs may run on. `token` is never in repr, logs or the settings JSON."""

    url: str
    name: str = ""
    token: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        """The name the artist gave it, else host:port."""
        return self.name or host_port(self.url)

    def to_json(self) -> JSONDict:
        """What settings.json keeps (no token)."""
        return {"url": self.url, "name": self.name} if self.name else {"url": self.url}


def check_server_url(text: str) -> str:
    """`text` as a server URL ("http://host:port[/path]" or https, no trailing slash; the one
    normalisation, studio.remote's `ServerConfig` uses it too); ValueError saying what is wrong
    otherwise. A bare "host:port" is taken as http."""
    raw = text.strip()
    if not raw:
        raise ValueError("the server URL is empty")
    if any(c.isspace() for c in raw):
        raise ValueError(f"{raw!r}: the URL contains spaces")
    if "://" not in raw:
        raw = f"http://{raw}"
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not a usable URL ({exc})") from None
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not a usable URL (invalid port: {exc})") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"{text.strip()!r}: the URL must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{text.strip()!r}: the URL has no host name")
    if parts.username or parts.password:
        raise ValueError(f"{text.strip()!r}: put a password in the token, not in the URL")
    if parts.query or parts.fragment:
        raise ValueError(
            f"{text.strip()!r}: give only the server's address (scheme, host, port, path), no query or fragment"
        )
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port_text = f":{port}" if port is not None else ""
    return f"{parts.scheme}://{host}{port_text}{parts.path.rstrip('/')}"  # a path: behind a proxy


def host_port(url: str) -> str:
    """ "host:port" of a server URL (the default port filled in), for labels."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError:
        return url
    return f"{parts.hostname or url}:{port}"


def token_sent_in_clear(server: RemoteServer) -> bool:
    """Whether the server's bearer token would cross the network unencrypted: a token sent over plain
    http:// to a host other than this computer (localhost and loopback addresses are fine)."""
    parts = urlsplit(server.url)
    return bool(server.token) and parts.scheme == "http" and not _is_loopback(parts.hostname or "")


def _is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may be anywhere
        return False


def servers_from_json(value: object, problems: list[str]) -> tuple[RemoteServer, ...] | None:
    """The servers of a settings file's list; None if it is not a list. An entry with a bad URL is
    left out and named in `problems`; the others are kept."""
    if not isinstance(value, list):
        return None
    servers: list[RemoteServer] = []
    for entry in value:
        url = entry.get("url") if isinstance(entry, dict) else entry
        name = entry.get("name", "") if isinstance(entry, dict) else ""
        try:
            if not isinstance(url, str):
                raise ValueError(f"{url!r} is not a URL")
            server = RemoteServer(check_server_url(url), name if isinstance(name, str) else "")
        except ValueError as exc:
            problems.append(f"A ComfyUI server in the settings was left out: {str(exc)[:200]}.")
            continue
        if all(s.url != server.url for s in servers):
            servers.append(server)
    return tuple(servers)


def where_jobs_run(run_on: str, servers: Sequence[RemoteServer]) -> str:
    """ "This computer" or "ComfyUI: host:port (+1)" (the status bar)."""
    if run_on != RUN_COMFYUI or not servers:
        return "This computer"
    more = f" (+{len(servers) - 1})" if len(servers) > 1 else ""
    return f"ComfyUI: {servers[0].label}{more}"


# -- the token file -------------------------------------------------------------------------------
def load_tokens(path: Path) -> dict[str, str]:
    """{url: token} from the token file; {} if it is missing or unreadable (logged without contents)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_TOKEN_FILE_BYTES:
            raise ValueError("the file is too large")
        data = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning(
            "The ComfyUI token file %s could not be read (%s); no tokens are used", path, type(exc).__name__
        )
        return {}
    if not isinstance(data, dict):
        log.warning("The ComfyUI token file %s is not a JSON object; no tokens are used", path)
        return {}
    _tighten(path)
    return {k: v for k, v in data.items() if isinstance(v, str) and v}


def save_tokens(path: Path, servers: Sequence[RemoteServer]) -> None:
    """Write the servers' tokens (those set) to `path`, 0600 from the first byte, atomically; a file
    with no token left is removed."""
    path = Path(path)
    tokens = {s.url: s.token for s in servers if s.token}
    if not tokens:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    _write_private(path, (json.dumps(tokens, indent=2) + "\n").encode())


def with_tokens(servers: Sequence[RemoteServer], tokens: dict[str, str]) -> tuple[RemoteServer, ...]:
    """The servers with the tokens the token file holds for their URLs."""
    return tuple(replace(s, token=tokens.get(s.url, s.token)) for s in servers)


def _write_private(path: Path, data: bytes) -> None:
    """Like core.fileio's atomic writes (same temp-file naming, so stale ones are cleaned), but the
    temp file is created 0600: the secret is never readable by others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), TOKEN_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, TOKEN_FILE_MODE)  # whatever the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _tighten(path: Path) -> None:
    """A token file others can read (copied in by hand) is made 0600."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, TOKEN_FILE_MODE)
            log.warning("The ComfyUI token file %s was readable by others; it is now 0600", path)
