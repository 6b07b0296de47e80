"""The REPLAY server: a small local aiohttp server that plays back a transcript recorded from a real
ComfyUI (`transcript.py`), for tests that cannot run ComfyUI (CI). It is not a ComfyUI and not a
server of Studio's: it answers only what was recorded.

- HTTP: a request is answered by the first recorded exchange it matches (method + path + query +
  normalised body, ids bound per session, see `IdBindings`); a request matching only exchanges
  already answered gets the last of them again (polling: /queue, /system_stats); a POST /prompt that
  matches only answered exchanges (a new prompt id), or a WebSocket connect of a new client, starts
  the recording over (a new round: the same job once more).
  A request the recording lacks gets 400 with a ``replay_mismatch`` error naming it (and is kept in
  `mismatches`), so a changed workflow shows as a clear failure, not a hang.
- State, as a ComfyUI keeps it: a prompt whose recorded messages are still being played is listed in
  /queue's ``queue_running`` (added to the recorded answer); GET /history/{id}, which recordings
  rarely hold, is answered from what was played: ``{}`` while the prompt runs or when it is unknown,
  its ``executed`` outputs once it ended (a client that checks on a slow prompt gets ComfyUI's answer).
- WebSocket ``/ws``: after answering a trigger (the connect, POST /prompt, /interrupt, /queue) the
  server sends the messages recorded after it, in order, with the recorded delays times
  `time_scale` (0: as fast as possible), to the socket of the client id they were recorded for.
- `faults`: bad-server behaviour for tests (`Fault`): a 500, malformed JSON (HTTP or WebSocket), an
  oversized image, an answer over the size limits, hostile output file names, the WebSocket closed
  or the server gone mid-job; `preview_delay`: preview frames that come late (a loaded server).

Runs in a thread of its own (`start()` returns its URL; `close()`), so synchronous tests and the
threaded RemoteEngine can use it as they would a ComfyUI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import WSMsgType, web

from tests.remote.replay.background import BackgroundServer
from tests.remote.replay.transcript import (
    REGENERATE,
    Exchange,
    IdBindings,
    Transcript,
    body_is_text,
    is_trigger,
    match_key,
    normalise_request_body,
    unpack_body,
)

log = logging.getLogger(__name__)


class FaultKind(str, Enum):
    HTTP_500 = "http_500"  # answer 500 with ComfyUI's (aiohttp's) plain-text error page
    MALFORMED_JSON = "malformed_json"  # answer 200 application/json with a truncated body
    OVERSIZED_IMAGE = "oversized_image"  # /view: a small PNG whose header says `side` x `side` pixels
    HUGE_BODY = "huge_body"  # an answer that says it is 100 MiB long (its first 64 KiB are sent)
    HOSTILE_FILENAME = (
        "hostile_filename"  # outputs named "../../x.png" (/history; POST /prompt: its messages)
    )
    CLOSE_WS = "close_ws"  # POST /prompt: after `after_messages` of its messages, the WebSocket closes
    DIES = "dies"  # POST /prompt: after `after_messages` of its messages, the server stops listening
    MALFORMED_WS = (
        "malformed_ws"  # POST /prompt: after `after_messages` of its messages, a text frame that is not JSON
    )


@dataclass
class Fault:
    """Bad behaviour on the first `times` requests to `path` (prefix; "" = any) with `method`."""

    kind: FaultKind
    path: str = ""
    method: str = ""
    times: int = 1
    after_messages: int = 3  # CLOSE_WS, DIES: WebSocket messages of the job sent before
    side: int = 9000  # OVERSIZED_IMAGE: its width and height (9000: 81 MP)

    def applies(self, method: str, path: str) -> bool:
        return self.times > 0 and path.startswith(self.path) and (not self.method or self.method == method)


HOSTILE_NAME = "../../x.png"
HOSTILE_FOLDER = "../.."


def oversized_png(width: int = 9000, height: int = 9000) -> bytes:
    """A small PNG file whose header declares `width` x `height` pixels (a decompression bomb)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


class ReplayServer:
    def __init__(
        self,
        transcript: Transcript,
        *,
        time_scale: float = 0.0,
        faults: list[Fault] | None = None,
        port: int = 0,
        preview_delay: float = 0.0,
    ) -> None:
        """`preview_delay`: seconds each binary preview frame comes after the message before it
        (a server that encodes its previews slowly, as a loaded one does)."""
        self.transcript = transcript
        self.time_scale = time_scale
        self.preview_delay = preview_delay
        self.faults = list(faults or [])
        self.mismatches: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._bindings = IdBindings(transcript.id_forms)
        self._answered: set[int] = set()
        self._sockets: dict[str, web.WebSocketResponse] = {}  # live client id -> socket
        self._send_locks: dict[str, asyncio.Lock] = {}
        self._hostile_originals: list[dict[str, str]] = []  # output names a HOSTILE_FILENAME fault hid
        self.gone = False  # after DIES: the server stopped listening, like a ComfyUI that died
        self._send_lock: asyncio.Lock | None = None
        self._running: list[str] = []  # live ids of the prompts whose messages are being played
        self._history: dict[str, dict[str, Any]] = {}  # live prompt id -> {node: output} once it ended
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = BackgroundServer(app, "comfyui-replay", port)
        self.url = ""

    # -- life -----------------------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; its URL ("http://127.0.0.1:N")."""
        self.url = self._server.start()
        return self.url

    def close(self) -> None:
        if self._server.loop is not None and not self.gone:
            self._server.call(self._close_sockets)
        self._server.close()

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets.values()):
            await ws.close()

    # -- HTTP ------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method.upper(), request.path
        self.requests.append((method, path))
        if path == "/ws" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        body = normalise_request_body(await request.read(), request.headers.get("Content-Type", ""))
        fault = self._take_fault(method, path)
        if fault is not None and fault.kind in (FaultKind.HTTP_500, FaultKind.MALFORMED_JSON):
            return _fault_response(fault.kind)
        if fault is not None and fault.kind is FaultKind.HUGE_BODY:
            return await _huge_body(request)
        query = dict(request.query)
        if path == "/view" and query.get("filename") == HOSTILE_NAME and self._hostile_originals:
            query.update(self._hostile_originals[-1])  # a hostile server serves what it named so
        exchange = self._match(method, path, query, body)
        if exchange is None and method == "GET" and path.startswith("/history/"):
            return web.json_response(self._live_history(path.removeprefix("/history/")))
        if exchange is None:
            return self._mismatch(method, path, query, body)
        response = self._answer(exchange, fault)
        if path == "/queue" and method == "GET":
            response = self._with_running(response)
        prompt_id = _prompt_id(response) if (method, path) == ("POST", "/prompt") else None
        if is_trigger(method, path):
            asyncio.get_running_loop().call_soon(self._send_segment, exchange.seq, fault, prompt_id)
        return response

    # -- live state ----------------------------------------------------------------------------------
    def _with_running(self, response: web.Response) -> web.Response:
        """The recorded /queue answer with the prompts being played added to ``queue_running``."""
        try:
            queue = json.loads(response.body or b"")  # type: ignore[arg-type]
        except ValueError:
            return response
        if not isinstance(queue, dict) or not isinstance(queue.get("queue_running"), list):
            return response
        listed = {item[1] for item in queue["queue_running"] if isinstance(item, list) and len(item) > 1}
        for number, prompt_id in enumerate(self._running):
            if prompt_id not in listed:
                queue["queue_running"].append([number, prompt_id, {}, {}, []])
        return web.json_response(queue, status=response.status)

    def _live_history(self, prompt_id: str) -> dict[str, Any]:
        outputs = self._history.get(prompt_id)
        if outputs is None:  # running, or never seen: what ComfyUI answers
            return {}
        status = {"status_str": "success", "completed": True, "messages": []}
        return {prompt_id: {"prompt": [], "outputs": outputs, "status": status, "meta": {}}}

    def _record_output(self, prompt_id: str | None, text: str) -> None:
        """Keep an ``executed`` message's output for /history/{prompt_id}."""
        if prompt_id is None:
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        data = message.get("data") if isinstance(message, dict) else None
        if isinstance(message, dict) and message.get("type") == "executed" and isinstance(data, dict):
            self._history.setdefault(prompt_id, {})[str(data.get("node"))] = data.get("output")

    def _answer(self, exchange: Exchange, fault: Fault | None) -> web.Response:
        if fault is not None and fault.kind is FaultKind.OVERSIZED_IMAGE:
            return web.Response(body=oversized_png(fault.side, fault.side), content_type="image/png")
        data = unpack_body(exchange.response)
        if body_is_text(exchange.response):
            text = self._bindings.fill(data.decode())
            if fault is not None and fault.kind is FaultKind.HOSTILE_FILENAME:
                text = self._hostile(text)
            data = text.encode()
        content_type, _, charset = exchange.content_type.partition("; charset=")
        return web.Response(
            status=exchange.status, body=data, content_type=content_type or None, charset=charset or None
        )

    def _mismatch(self, method: str, path: str, query: dict[str, str], body: Any) -> web.Response:
        near = [e for e in self.transcript.exchanges if e.method == method and e.path == path]
        what = f"{method} {path}" + (f"?{query}" if query else "")
        why = "its body or query differs from the recording" if near else "the recording has no such request"
        message = (
            f"the ComfyUI replay ({self.transcript.scenario}) has no recorded answer for {what}: {why} "
            f"(regenerate the transcripts: {REGENERATE})"
        )
        self.mismatches.append(message)
        log.warning(
            "%s\nlive: %s\nrecorded: %s", message, json.dumps(body)[:2000], [e.request for e in near][:2]
        )
        error = {"type": "replay_mismatch", "message": message, "details": what, "extra_info": {}}
        return web.json_response({"error": error, "node_errors": {}}, status=400)

    # -- matching --------------------------------------------------------------------------------------
    def _match(self, method: str, path: str, query: dict[str, str], body: Any) -> Exchange | None:
        """The recorded exchange that answers this request (binding its new ids), or None."""
        key = match_key(method, path, query, body)
        exchange = self._first_match(key, self._bindings, answered=False)
        if exchange is None:
            exchange = self._first_match(key, self._bindings, answered=True, last=True)
        if exchange is None and is_trigger(method, path):
            fresh = IdBindings(self.transcript.id_forms)
            answered, self._answered = self._answered, set()
            exchange = self._first_match(key, fresh, answered=False)
            if exchange is not None:  # a new client, or the same job again: the recording over
                log.info("replay: %s %s starts the recording over", method, path)
                self._bindings = fresh
            else:
                self._answered = answered
        if exchange is not None:
            self._answered.add(exchange.seq)
        return exchange

    def _first_match(
        self, key: str, bindings: IdBindings, *, answered: bool, last: bool = False
    ) -> Exchange | None:
        live = bindings.name_known(key)
        method = json.loads(key)[0]
        candidates = [
            e
            for e in self.transcript.exchanges
            if e.method == method and (e.seq in self._answered) == answered
        ]
        for exchange in reversed(candidates) if last else candidates:
            new = bindings.unify(live, exchange.match_key())
            if new is not None:
                for index, value in new.items():
                    bindings.bind(index, value)
                return exchange
        return None

    # -- WebSocket -----------------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        client_id = request.query.get("clientId", "")
        self._sockets[client_id] = ws
        exchange = self._match("GET", "/ws", dict(request.query), None)
        if exchange is not None:
            self._send_segment(exchange.seq, None)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            if self._sockets.get(client_id) is ws:
                del self._sockets[client_id]
        return ws

    def _send_segment(self, seq: int, fault: Fault | None, prompt_id: str | None = None) -> None:
        """Play the messages exchange `seq` set off, filled with the ids of THIS round: a new round
        started while they play (the client's next prompt) must not rename the last job's messages."""
        messages = self.transcript.segment(seq)
        if prompt_id is not None:
            self._running.append(prompt_id)
        if messages:
            play = self._play(messages, fault, self._bindings, prompt_id)
            asyncio.get_running_loop().create_task(play)
        else:
            self._ended(prompt_id, completed=True)

    def _ended(self, prompt_id: str | None, *, completed: bool) -> None:
        """The prompt's messages are played (`completed`) or were cut off by a fault (then it never
        reaches the history, as a prompt of a server that died)."""
        if prompt_id is not None and prompt_id in self._running:
            self._running.remove(prompt_id)
            if completed:
                self._history.setdefault(prompt_id, {})

    async def _play(
        self, messages: list[Any], fault: Fault | None, bindings: IdBindings, prompt_id: str | None
    ) -> None:
        completed = False
        try:
            completed = await self._play_messages(messages, fault, bindings, prompt_id)
        finally:
            self._ended(prompt_id, completed=completed)

    async def _play_messages(
        self, messages: list[Any], fault: Fault | None, bindings: IdBindings, prompt_id: str | None
    ) -> bool:
        """Send the messages with their recorded delays; False when a fault cut them off."""
        ends = fault is not None and fault.kind in (FaultKind.CLOSE_WS, FaultKind.DIES)
        close_after = fault.after_messages if fault is not None and ends else None
        conn_clients = self._connection_clients(bindings)
        if self._send_lock is None:
            self._send_lock = asyncio.Lock()
        async with self._send_lock:
            previous = 0.0
            for sent, message in enumerate(messages):
                if fault is not None and close_after is not None and sent >= close_after:
                    await self._close_mid_job(dies=fault.kind is FaultKind.DIES)
                    return False
                if (
                    fault is not None
                    and fault.kind is FaultKind.MALFORMED_WS
                    and sent == fault.after_messages
                ):
                    ws = self._socket_for(conn_clients.get(message.conn, ""))
                    if ws is not None and not ws.closed:
                        await ws.send_str('{"type": "progress", "data": {"value": 1,')
                if self.time_scale > 0 and message.dt > previous:
                    await asyncio.sleep((message.dt - previous) * self.time_scale)
                if message.data is not None and self.preview_delay > 0:
                    await asyncio.sleep(self.preview_delay)
                previous = message.dt
                text = self._message_text(message.text, fault, bindings, prompt_id)
                ws = self._socket_for(conn_clients.get(message.conn, ""))
                if ws is None or ws.closed:
                    continue
                try:
                    if text is not None:
                        await ws.send_str(text)
                    else:
                        await ws.send_bytes(message.data or b"")
                except ConnectionError:
                    log.info("replay: the client's WebSocket closed while sending")
        return True

    def _message_text(
        self, recorded: str | None, fault: Fault | None, bindings: IdBindings, prompt_id: str | None
    ) -> str | None:
        """A recorded text frame with this round's ids (None for a binary frame), kept for /history."""
        if recorded is None:
            return None
        text = bindings.fill(recorded)
        if fault is not None and fault.kind is FaultKind.HOSTILE_FILENAME:
            text = self._hostile(text)
        self._record_output(prompt_id, text)
        return text

    def _connection_clients(self, bindings: IdBindings) -> dict[int, str]:
        """Recorded connection number -> the live client id it is for (by the recorded /ws query)."""
        out: dict[int, str] = {}
        connects = [e for e in self.transcript.exchanges if e.path == "/ws"]
        for conn, exchange in enumerate(connects):
            out[conn] = bindings.fill(exchange.query.get("clientId", ""))
        return out

    def _socket_for(self, client_id: str) -> web.WebSocketResponse | None:
        if client_id in self._sockets:
            return self._sockets[client_id]
        return next(reversed(self._sockets.values()), None)

    async def _close_mid_job(self, dies: bool) -> None:
        log.info("replay: closing the WebSocket mid-job%s (fault)", " and going away" if dies else "")
        if dies:  # gone from now: a client may notice the closed socket before the port is closed
            self.gone = True
        for ws in list(self._sockets.values()):
            await ws.close(code=1001, message=b"server going away")
        if dies:
            await self._server.stop_listening()

    def _hostile(self, text: str) -> str:
        """`text` (/history, an ``executed`` message) with every output image's filename and
        subfolder made to climb out of folders; the real names are kept to serve /view."""
        try:
            data = json.loads(text)
        except ValueError:
            return text

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if "filename" in value and "type" in value:
                    self._hostile_originals.append(
                        {"filename": str(value["filename"]), "subfolder": str(value.get("subfolder", ""))}
                    )
                    value["filename"], value["subfolder"] = HOSTILE_NAME, HOSTILE_FOLDER
                for child in value.values():
                    walk(child)
            elif isinstance(value, list):
                for child in value:
                    walk(child)

        walk(data)
        return json.dumps(data)

    # -- faults ----------------------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.applies(method, path):
                fault.times -= 1
                return fault
        return None


async def _huge_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "image/png"})
    response.content_length = 100 * 1024 * 1024
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):  # the client stopped reading: what it should do
        await response.write(b"\0" * 65536)
    return response


def _prompt_id(response: web.Response) -> str | None:
    """The prompt id of a POST /prompt answer (None when it is not one: an error, a fault)."""
    try:
        answer = json.loads(response.body or b"")  # type: ignore[arg-type]
    except ValueError:
        return None
    prompt_id = answer.get("prompt_id") if isinstance(answer, dict) else None
    return prompt_id if isinstance(prompt_id, str) else None


def _fault_response(kind: FaultKind) -> web.Response:
    if kind is FaultKind.HTTP_500:
        return web.Response(
            status=500,
            text="500 Internal Server Error\n\nServer got itself in trouble",
            content_type="text/plain",
        )
    return web.Response(status=200, body=b'{"prompt_id": "12ab", "number": ', content_type="application/json")
