"""One ComfyUI server's API: HTTP with `requests`, the WebSocket with `websocket-client`.

Every call has a timeout; every failure is a `studio.remote.errors.RemoteError` whose message says
what went wrong in words (the token is never in it). Every reply goes through `validate`. Uploads get
names Studio generates (``studio-<random>.png``): no local path or file name is ever sent.

Thread-safety: one `ComfyClient` may be used from several threads for HTTP (a `requests.Session`
per client, guarded by a lock); a `Socket` belongs to the thread that reads it.
"""

from __future__ import annotations

import io
import json
import logging
import math
import struct
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket
from PIL import Image

from studio.remote import validate
from studio.remote.errors import (
    BadReply,
    NotComfyUI,
    PromptRejected,
    RemoteError,
    ServerError,
    ServerGone,
    ServerUnreachable,
)
from studio.remote.servers import ServerConfig
from studio.remote.validate import FileRef

log = logging.getLogger(__name__)

CHECKPOINTS_MAX_AGE = 30.0  # seconds a server's checkpoint list is reused for jobs
READ_TIMEOUT = 30.0  # seconds for an HTTP answer (object_info of a big install takes a while)
_CHUNK = 1 << 16
# Binary WebSocket frames: 4-byte event type, then for a preview a 4-byte image format
PREVIEW_IMAGE = 1
PREVIEW_FORMATS = {1: "JPEG", 2: "PNG"}
MAX_FRAME_BYTES = validate.MAX_IMAGE_BYTES + 1024  # a preview image and its header


@dataclass(frozen=True)
class Message:
    """A WebSocket text message: its type ("progress", "executing", ...) and data."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Preview:
    """A binary preview frame; its image is decoded when asked for (`image`), within the limits."""

    data: bytes = field(repr=False)
    format: str  # "JPEG" or "PNG"
    server: str = ""

    def image(self, at_least: tuple[int, int] | None = None) -> Image.Image:
        """The preview as RGB; `at_least`: a size it may be decoded down to (JPEG's draft mode, which
        skips most of the decoding when the server sends previews larger than they are shown)."""
        return validate.decode_image(self.data, f"{self.server} (preview)", (self.format,), draft=at_least)


class ComfyClient:
    """HTTP calls to one server; `socket()` opens its WebSocket."""

    def __init__(
        self, server: ServerConfig, *, connect_timeout: float = 5.0, read_timeout: float = READ_TIMEOUT
    ):
        self.server = server
        self.client_id = uuid.uuid4().hex
        self._timeouts = (connect_timeout, read_timeout)
        self._session = requests.Session()
        self._session.headers.update(server.headers())
        self._lock = threading.Lock()
        self._choices: dict[tuple[str, str], list[str] | None] = {}
        self._checkpoints: tuple[float, list[str]] = (-math.inf, [])

    def __repr__(self) -> str:
        return f"<ComfyClient {self.server.url}>"

    def close(self) -> None:
        self._session.close()

    # ---- HTTP ---------------------------------------------------------------------------------
    def system_stats(self) -> dict[str, Any]:
        return validate.system_stats(self._get_json("/system_stats"))

    def queue_length(self) -> int:
        return validate.queue_length(self._get_json("/queue"))

    def queued_prompt_ids(self) -> set[str]:
        return validate.queued_prompt_ids(self._get_json("/queue"))

    def checkpoints(self) -> list[str]:
        """The checkpoint names the server lists (``/models/checkpoints``; older servers: the
        CheckpointLoaderSimple node's choices in ``/object_info``)."""
        try:
            names = validate.model_names(self._get_json("/models/checkpoints"), "/models/checkpoints")
        except NotComfyUI:
            names = self.choices("CheckpointLoaderSimple", "ckpt_name") or []
        self._checkpoints = (time.monotonic(), names)
        return names

    def known_checkpoints(self, max_age: float = CHECKPOINTS_MAX_AGE) -> list[str]:
        """`checkpoints()`, asked again only when the last answer is older than `max_age` seconds
        (one request less per job; a name not in the list is worth asking again for)."""
        asked, names = self._checkpoints
        return names if time.monotonic() - asked <= max_age else self.checkpoints()

    def choices(self, node: str, inp: str) -> list[str] | None:
        """The choices the server offers for `node`'s combo input `inp` (cached per client)."""
        key = (node, inp)
        if key not in self._choices:
            info = self._get_json(f"/object_info/{node}")
            self._choices[key] = validate.node_choices(info, node, inp)
        return self._choices[key]

    def upload_image(self, image: Image.Image) -> FileRef:
        """Upload `image` as PNG under a generated name to the server's input folder."""
        files = {"image": (f"studio-{uuid.uuid4().hex}.png", _png(image), "image/png")}
        reply = self._post("/upload/image", files=files, data={"type": "input", "overwrite": "true"})
        return validate.file_ref(reply, "/upload/image")

    def upload_mask(self, mask: Image.Image, original: FileRef) -> FileRef:
        """Upload `mask` ("L", white = repaint) onto the uploaded `original`: the server stores the
        original with the mask as its alpha channel (inverted: ComfyUI's LoadImage reads 1 - alpha as
        the mask), under a generated name. LoadImage of the reply gives the image and the mask."""
        alpha = Image.eval(mask.convert("L"), lambda v: 255 - v)
        rgba = Image.new("RGBA", mask.size, (0, 0, 0, 0))
        rgba.putalpha(alpha)
        ref = json.dumps(
            {"filename": original.filename, "subfolder": original.subfolder, "type": original.type}
        )
        files = {"image": (f"studio-{uuid.uuid4().hex}.png", _png(rgba), "image/png")}
        data = {"type": "input", "overwrite": "true", "original_ref": ref}
        return validate.file_ref(self._post("/upload/mask", files=files, data=data), "/upload/mask")

    def queue_prompt(self, graph: dict[str, Any], prompt_id: str) -> str:
        """POST /prompt; returns the prompt id. A workflow the server refuses: `PromptRejected`."""
        body = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        return validate.prompt_id(self._post("/prompt", json=body))

    def history_outputs(self, prompt_id: str) -> dict[str, list[FileRef]]:
        return validate.history_outputs(self._get_json(f"/history/{prompt_id}"), prompt_id)

    def view(self, ref: FileRef) -> Image.Image:
        """A result image (`/view`), within `validate`'s size limits."""
        body = self._call("GET", "/view", params=ref.query(), limit=validate.MAX_IMAGE_BYTES)
        return validate.decode_image(body, f"{self.server.name} /view")

    def interrupt(self, prompt_id: str) -> None:
        """Stop `prompt_id` if it is the one running (servers before targeted interrupts stop
        whatever runs: Studio calls this only for its own running prompt)."""
        self._call("POST", "/interrupt", json={"prompt_id": prompt_id})

    def delete_queued(self, prompt_ids: list[str]) -> None:
        self._call("POST", "/queue", json={"delete": prompt_ids})

    # ---- WebSocket ----------------------------------------------------------------------------
    def socket(self, recv_timeout: float = 1.0, silence_limit: float = 8.0) -> Socket:
        """Open the WebSocket for this client id (progress, previews, results of its prompts)."""
        url = f"{self.server.ws_url}/ws?clientId={self.client_id}"
        header = [f"{k}: {v}" for k, v in self.server.headers().items()]
        try:
            ws = websocket.create_connection(url, timeout=self._timeouts[0], header=header)
        except websocket.WebSocketBadStatusException as exc:
            raise _status_error(self.server, "/ws", exc.status_code) from None
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerUnreachable(
                f"Cannot open the WebSocket of the ComfyUI server at {self.server.url}: {_reason(exc)}."
            ) from None
        ws.settimeout(recv_timeout)
        ws.frame_buffer = _LimitedFrames(ws.frame_buffer)
        return Socket(ws, self.server, silence_limit)

    # ---- plumbing -----------------------------------------------------------------------------
    def _get_json(self, path: str) -> Any:
        return validate.json_reply(self._call("GET", path), path)

    def _post(self, path: str, **kwargs: Any) -> Any:
        return validate.json_reply(self._call("POST", path, **kwargs), path)

    def _call(self, method: str, path: str, *, limit: int = validate.MAX_JSON_BYTES, **kwargs: Any) -> bytes:
        url = f"{self.server.url}{path}"
        try:
            with (
                self._lock,
                self._session.request(
                    method, url, timeout=self._timeouts, stream=True, allow_redirects=False, **kwargs
                ) as response,
            ):
                if response.status_code == 400 and path == "/prompt":
                    raise PromptRejected(_rejection(response.content[: validate.MAX_JSON_BYTES]))
                if response.status_code >= 300:
                    raise _status_error(self.server, path, response.status_code)
                return _read_limited(response, limit, f"{self.server.name} {path}")
        except RemoteError:
            raise
        except requests.RequestException as exc:
            raise ServerUnreachable(
                f"Cannot reach the ComfyUI server at {self.server.url} ({method} {path}): {_reason(exc)}."
            ) from None


class Socket:
    """A server's WebSocket: `receive()` gives `Message`s and `Preview`s; a closed or silent
    connection raises `ServerGone` (pings keep it checked)."""

    def __init__(self, ws: websocket.WebSocket, server: ServerConfig, silence_limit: float = 8.0) -> None:
        self._ws = ws
        self._server = server
        self._silence_limit = silence_limit
        self._last_heard = time.monotonic()
        self._last_ping = 0.0

    def receive(self) -> Message | Preview | None:
        """The next message; None when none came within the receive timeout (about a second)."""
        self._keep_alive()
        try:
            opcode, frame = self._ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            self._check_silence()
            return None
        except (OSError, websocket.WebSocketException) as exc:
            raise ServerGone(
                f"The connection to the ComfyUI server {self._server.name} was lost: {_reason(exc)}."
            ) from None
        self._last_heard = time.monotonic()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise ServerGone(f"The ComfyUI server {self._server.name} closed the connection.")
        if opcode == websocket.ABNF.OPCODE_TEXT:
            kind, data = validate.ws_message(frame.data.decode("utf-8", "replace"))
            return Message(kind, data)
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return _preview(bytes(frame.data), self._server.name)
        return None  # pong / ping

    def close(self) -> None:
        try:
            self._ws.close(timeout=1)
        except Exception:  # closing a dead socket must not fail anything
            log.debug("Closing the WebSocket of %s failed", self._server.name, exc_info=True)

    def _keep_alive(self) -> None:
        now = time.monotonic()
        if now - self._last_ping >= self._silence_limit / 4:
            self._last_ping = now
            try:
                self._ws.ping()
            except (OSError, websocket.WebSocketException) as exc:
                raise ServerGone(
                    f"The connection to the ComfyUI server {self._server.name} was lost: {_reason(exc)}."
                ) from None

    def _check_silence(self) -> None:
        silent = time.monotonic() - self._last_heard
        if silent > self._silence_limit:
            raise ServerGone(
                f"The ComfyUI server {self._server.name} stopped answering ({silent:.0f} s without a reply)."
            )


class _LimitedFrames(websocket._abnf.frame_buffer):
    """websocket-client's frame reader, refusing a frame longer than `MAX_FRAME_BYTES` before reading
    it (websocket-client has no limit of its own): the connection is then treated as lost."""

    def __init__(self, original: websocket._abnf.frame_buffer) -> None:
        super().__init__(original.recv, original.skip_utf8_validation)

    def recv_length(self) -> None:
        super().recv_length()
        if self.length is not None and self.length > MAX_FRAME_BYTES:
            raise websocket.WebSocketProtocolException(
                f"it sent a message of {self.length / 2**20:.0f} MB (at most {MAX_FRAME_BYTES // 2**20} MB are read)"
            )


def merged_checkpoints(clients: Iterable[ComfyClient]) -> tuple[list[str], list[RemoteError]]:
    """The checkpoints the clients' servers list, each once (the first server's order, then any the
    others add), and the errors of the servers that could not be asked (each logged)."""
    names: dict[str, None] = {}
    errors: list[RemoteError] = []
    for client in clients:
        try:
            names.update(dict.fromkeys(client.checkpoints()))
        except RemoteError as exc:
            log.warning("Could not list the checkpoints of %s: %s", client.server.name, exc)
            errors.append(exc)
    return list(names), errors


def _preview(data: bytes, server: str) -> Preview | None:
    """A binary frame: type 1 is a preview (4-byte format + JPEG/PNG); others are ignored."""
    if len(data) < 8:
        raise BadReply(f"The ComfyUI server {server} sent a binary message too short to read.")
    event, image_format = struct.unpack(">II", data[:8])
    if event != PREVIEW_IMAGE:
        return None
    fmt = PREVIEW_FORMATS.get(image_format)
    if fmt is None:
        raise BadReply(f"The ComfyUI server {server} sent a preview in an unknown format ({image_format}).")
    return Preview(data[8:], fmt, server)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _read_limited(response: requests.Response, limit: int, what: str) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise BadReply(
            f"The answer from {what} is {int(length) / 2**20:.0f} MB; Studio accepts at most {limit // 2**20} MB."
        )
    chunks, total = [], 0
    for chunk in response.iter_content(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise BadReply(f"The answer from {what} is larger than {limit // 2**20} MB; Studio refuses it.")
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(server: ServerConfig, path: str, status: int) -> RemoteError:
    if status in (401, 403):
        return ServerError(
            f"The server at {server.url} refused access to {path} (HTTP {status}): check the server's token.",
            status,
        )
    if status == 404:
        return NotComfyUI(f"The server at {server.url} has no {path} (HTTP 404); is it a ComfyUI server?")
    if status < 300:  # a web page where ComfyUI's WebSocket should be
        return NotComfyUI(
            f"The server at {server.url} answered {path} with a page (HTTP {status}), not ComfyUI's "
            "WebSocket; is it a ComfyUI server?"
        )
    return ServerError(
        f"The ComfyUI server at {server.url} answered {path} with an error (HTTP {status}).", status
    )


def _rejection(body: bytes) -> str:
    """The message of a 400 from POST /prompt: ComfyUI's error and the node errors, in words."""
    try:
        reply = validate.json_object(validate.json_reply(body, "POST /prompt"), "POST /prompt")
    except BadReply:
        return "The ComfyUI server refused the job (HTTP 400) without saying why."
    error = reply.get("error")
    parts = [str(error.get("message", "")) if isinstance(error, dict) else str(error or "")]
    nodes = reply.get("node_errors")
    if isinstance(nodes, dict):
        for node in nodes.values():
            for err in node.get("errors", []) if isinstance(node, dict) else []:
                if isinstance(err, dict):
                    parts.append(f"{err.get('message', '')}: {err.get('details', '')}".strip(": "))
    text = "; ".join(p for p in parts if p)[:500]
    return f"The ComfyUI server refused the job: {text or 'no reason given'}."


def _reason(exc: BaseException) -> str:
    """A short reason for a connection failure (no URL query, no headers)."""
    if isinstance(
        exc,
        requests.ConnectTimeout | requests.ReadTimeout | TimeoutError | websocket.WebSocketTimeoutException,
    ):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the secure connection (TLS) failed"
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused (is the server running, and is the address right?)"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
