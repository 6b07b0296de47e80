"""Transcripts of recorded ComfyUI sessions: what the REPLAY server serves, what the recorder writes.

A transcript is one scenario (txt2img, cancel, ...) as it happened against a real ComfyUI: every
HTTP exchange in order (request normalised for matching, response as received) and every WebSocket
message the server sent, each attached to the request that set it off (its *trigger*: the WebSocket
connect, POST /prompt, POST /interrupt, POST /queue) with its delay after that request.

Ids that change from run to run (client ids, prompt ids, generated upload names: UUID-like tokens)
are stored as placeholders ``<id:N>``, numbered by first appearance; the replay binds them to the
live values of its own session (`IdBindings`).

Stored as compact JSON: bodies as JSON where they are JSON, else text or base64, gzip+base64 when
large (``/object_info``).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "studio-comfyui-replay/1"
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"
REGENERATE = (
    "python -m tests.remote.replay.record --comfyui /path/to/ComfyUI --python /path/to/comfy/venv/bin/python"
)

# Client ids, prompt ids and generated upload names: UUIDs, dashed or as 32 hex digits.
TOKEN_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?![0-9A-Za-z])"
)
PLACEHOLDER_RE = re.compile(r"<id:(\d+)>")
TRIGGERS = {("POST", "/prompt"), ("POST", "/interrupt"), ("POST", "/queue"), ("GET", "/ws")}
_GZIP_OVER = 4096


def is_trigger(method: str, path: str) -> bool:
    """Whether a request sets off WebSocket messages the replay sends after answering it."""
    return (method.upper(), path) in TRIGGERS


# -- bodies ---------------------------------------------------------------------------------------
def pack_body(data: bytes, content_type: str) -> dict[str, Any]:
    """A body as stored: {"json": value} | {"text": str} | {"b64": str} | {"gz64": str, "as": kind}."""
    if not data:
        return {}
    kind = "b64"
    value: Any = None
    if "json" in content_type:
        try:
            value = json.loads(data)
            kind = "json"
        except ValueError:
            kind = "text" if _is_text(data) else "b64"
    elif content_type.startswith("text/") and _is_text(data):
        kind = "text"
    if len(data) > _GZIP_OVER and kind != "b64":
        return {"gz64": base64.b64encode(gzip.compress(data, 9, mtime=0)).decode(), "as": kind}
    if kind == "json":
        return {"json": value}
    if kind == "text":
        return {"text": data.decode()}
    return {"b64": base64.b64encode(data).decode()}


def unpack_body(body: dict[str, Any]) -> bytes:
    """The bytes of a stored body (placeholders still in it)."""
    if "json" in body:
        return json.dumps(body["json"], separators=(",", ":")).encode()
    if "text" in body:
        return str(body["text"]).encode()
    if "b64" in body:
        return base64.b64decode(body["b64"])
    if "gz64" in body:
        return gzip.decompress(base64.b64decode(body["gz64"]))
    return b""


def body_is_text(body: dict[str, Any]) -> bool:
    return "json" in body or "text" in body or body.get("as") in ("json", "text")


def _is_text(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


# -- the transcript ---------------------------------------------------------------------------------
@dataclass
class Exchange:
    """One HTTP request and its answer (or a WebSocket connect: ``path == "/ws"``, no answer)."""

    seq: int
    t: float  # seconds since the recording started
    method: str
    path: str
    query: dict[str, str]
    request: Any  # the normalised request body (see `normalise_request_body`), placeholders in it
    status: int = 200
    content_type: str = ""
    response: dict[str, Any] = field(default_factory=dict)  # `pack_body` form, placeholders in it

    def match_key(self) -> str:
        """What a live request must equal (after its ids are bound) to be answered by this one."""
        return match_key(self.method, self.path, self.query, self.request)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "t": round(self.t, 4),
            "method": self.method,
            "path": self.path,
        }
        if self.query:
            out["query"] = self.query
        if self.request is not None:
            out["request"] = self.request
        if self.path != "/ws":
            out.update(status=self.status, content_type=self.content_type, response=self.response)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        return cls(
            seq=int(data["seq"]),
            t=float(data["t"]),
            method=str(data["method"]),
            path=str(data["path"]),
            query=dict(data.get("query", {})),
            request=data.get("request"),
            status=int(data.get("status", 200)),
            content_type=str(data.get("content_type", "")),
            response=dict(data.get("response", {})),
        )


@dataclass
class WsMessage:
    """A message the server sent on a WebSocket: JSON text or a binary frame (preview image)."""

    after: int  # seq of the trigger exchange it followed
    dt: float  # seconds after that trigger
    conn: int  # which WebSocket connection of the session (0, 1, ...)
    text: str | None = None  # JSON text, placeholders in it
    data: bytes | None = None  # binary frame

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"after": self.after, "dt": round(self.dt, 4), "conn": self.conn}
        if self.text is not None:
            out["json"] = json.loads(self.text)
        else:
            out["b64"] = base64.b64encode(self.data or b"").decode()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WsMessage:
        text = json.dumps(data["json"], separators=(",", ":")) if "json" in data else None
        raw = base64.b64decode(data["b64"]) if "b64" in data else None
        return cls(int(data["after"]), float(data["dt"]), int(data["conn"]), text, raw)


@dataclass
class Transcript:
    scenario: str
    exchanges: list[Exchange]
    messages: list[WsMessage]
    id_forms: dict[int, str] = field(default_factory=dict)  # placeholder -> "uuid" | "hex"
    recorded: dict[str, Any] = field(default_factory=dict)  # ComfyUI version, date, notes

    def segment(self, seq: int) -> list[WsMessage]:
        """The WebSocket messages set off by exchange `seq`, in order."""
        return [m for m in self.messages if m.after == seq]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "note": "REPLAY transcript of a real ComfyUI session, served by tests/remote/replay/server.py; "
            f"regenerate all with: {REGENERATE}",
            "scenario": self.scenario,
            "recorded": self.recorded,
            "id_forms": {str(k): v for k, v in sorted(self.id_forms.items())},
            "exchanges": [e.to_json() for e in self.exchanges],
            "ws": [m.to_json() for m in self.messages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a replay transcript (format {data.get('format')!r}, expected {FORMAT})")
        return cls(
            scenario=str(data["scenario"]),
            exchanges=[Exchange.from_json(e) for e in data["exchanges"]],
            messages=[WsMessage.from_json(m) for m in data["ws"]],
            id_forms={int(k): str(v) for k, v in data.get("id_forms", {}).items()},
            recorded=dict(data.get("recorded", {})),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), separators=(",", ":"), sort_keys=False) + "\n")

    @classmethod
    def load(cls, path: Path) -> Transcript:
        return cls.from_json(json.loads(path.read_text()))


def load(scenario: str, folder: Path = TRANSCRIPTS) -> Transcript:
    """The stored transcript of `scenario` (e.g. "txt2img")."""
    return Transcript.load(folder / f"{scenario}.json")


# -- normalising requests -------------------------------------------------------------------------------
def normalise_request_body(data: bytes, content_type: str) -> Any:
    """A request body as matched: JSON value, multipart fields (file parts by name, type and
    filename only: their pixels may be encoded differently run to run), text, or None."""
    if not data:
        return None
    if "json" in content_type or data[:1] in (b"{", b"["):
        try:
            return {"json": json.loads(data)}
        except ValueError:
            pass
    if content_type.startswith("multipart/"):
        return {"multipart": _multipart_fields(data, content_type)}
    if _is_text(data):
        return {"text": data.decode()}
    return {"bytes": len(data)}


def _multipart_fields(data: bytes, content_type: str) -> list[dict[str, str]]:
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + data
    )
    fields: list[dict[str, str]] = []
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition") or "")
        filename = part.get_filename()
        if filename is not None:
            fields.append({"name": name, "filename": filename, "type": part.get_content_type()})
        else:
            payload = part.get_payload(decode=True)
            value = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
            fields.append({"name": name, "value": value})
    return sorted(fields, key=lambda f: (f["name"], f.get("filename", ""), f.get("value", "")))


def match_key(method: str, path: str, query: dict[str, str], request: Any) -> str:
    return json.dumps([method.upper(), path, dict(sorted(query.items())), request], sort_keys=True)


# -- ids --------------------------------------------------------------------------------------------
class IdNamer:
    """At recording time: replaces every UUID-like token by a placeholder numbered in order of
    first appearance (`known_only` leaves tokens not seen before as they are)."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}
        self.forms: dict[int, str] = {}

    def __call__(self, text: str, known_only: bool = False) -> str:
        def name(match: re.Match[str]) -> str:
            token = match.group(0)
            if token not in self.names:
                if known_only:
                    return token
                self.names[token] = len(self.names)
                self.forms[self.names[token]] = "uuid" if "-" in token else "hex"
            return f"<id:{self.names[token]}>"

        return TOKEN_RE.sub(name, text)


class IdBindings:
    """At replay time: placeholder <-> the live value of this session.

    A live token in a request binds to the placeholder at the same place in the recorded request
    that matches it; a placeholder the replay sends before it is bound gets a fresh UUID (the ids the
    server makes: prompt ids)."""

    def __init__(self, forms: dict[int, str]) -> None:
        self.forms = forms
        self.live: dict[int, str] = {}
        self.placeholder: dict[str, int] = {}

    def bind(self, index: int, value: str) -> None:
        self.live[index] = value
        self.placeholder[value] = index

    def fill(self, text: str) -> str:
        """Recorded text with every placeholder replaced by its live value (fresh ones bound)."""

        def live(match: re.Match[str]) -> str:
            index = int(match.group(1))
            if index not in self.live:
                fresh = uuid.uuid4()
                self.bind(index, str(fresh) if self.forms.get(index, "uuid") == "uuid" else fresh.hex)
            return self.live[index]

        return PLACEHOLDER_RE.sub(live, text)

    def name_known(self, text: str) -> str:
        """Live text with bound tokens as their placeholders and unbound ones as ``<?:token>``."""

        def name(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in self.placeholder:
                return f"<id:{self.placeholder[token]}>"
            return f"<?:{token}>"

        return TOKEN_RE.sub(name, text)

    def unify(self, live_key: str, recorded_key: str) -> dict[int, str] | None:
        """The new bindings under which `live_key` (from `name_known`) equals `recorded_key`, or None."""
        live_parts = re.split(r"(<id:\d+>|<\?:[0-9a-f-]+>)", live_key)
        recorded_parts = re.split(r"(<id:\d+>)", recorded_key)
        if len(live_parts) != len(recorded_parts):
            return None
        new: dict[int, str] = {}
        for i, (mine, theirs) in enumerate(zip(live_parts, recorded_parts, strict=True)):
            if i % 2 == 0 or mine.startswith("<id:"):
                if mine != theirs:
                    return None
                continue
            token, index = mine[3:-1], int(theirs[4:-1])
            if self.live.get(index, token) != token or new.get(index, token) != token:
                return None
            if index in self.live and self.live[index] != token:
                return None
            new[index] = token
        return new
