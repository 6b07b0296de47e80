"""The recording proxy: sits between Studio's client and a REAL ComfyUI, passes every HTTP request and
WebSocket message through unchanged and notes them, so that `transcript()` can write what happened
as a replay transcript (`transcript.py`). Used by `record.py`; not by tests."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from tests.remote.replay.background import BackgroundServer
from tests.remote.replay.transcript import (
    Exchange,
    IdNamer,
    Transcript,
    WsMessage,
    is_trigger,
    normalise_request_body,
    pack_body,
)

log = logging.getLogger(__name__)
_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "accept-encoding"}


@dataclass
class _Http:
    t: float
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    content_type: str
    status: int = 0
    response_type: str = ""
    response: bytes = b""
    t_end: float = 0.0  # when the answer went back


@dataclass
class _WsOpen:
    t: float
    conn: int
    query: dict[str, str]


@dataclass
class _WsMsg:
    t: float
    conn: int
    text: str | None = None
    data: bytes | None = None


Timed = _Http | _WsOpen | _WsMsg  # .t: when it passed, .conn (WebSocket): which connection


@dataclass
class _Log:
    start: float = 0.0  # times are time.monotonic(); transcripts count from the first event
    events: list[_Http | _WsOpen | _WsMsg] = field(default_factory=list)
    connections: int = 0

    def now(self) -> float:
        return time.monotonic() - self.start


class RecordingProxy:
    """`start()` -> the URL to give Studio; `transcript(name)` takes what was recorded since the
    last call (and starts a fresh log)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._log = _Log()
        self._session: aiohttp.ClientSession | None = None
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = BackgroundServer(app, "comfyui-recording-proxy")
        self.url = ""

    def start(self) -> str:
        self.url = self._server.start()
        return self.url

    def close(self) -> None:
        if self._session is not None and self._server.loop is not None:
            self._server.call(self._session.close)
        self._server.close()

    def transcript(self, scenario: str, recorded: dict[str, Any]) -> Transcript:
        """What was recorded since the last call, as the transcript of `scenario`."""
        return build_transcript(scenario, self.take_events(), recorded)

    def take_events(self) -> list[Timed]:
        """What passed since the last call, in order; times are `time.monotonic()` seconds
        (for timing what a client does between the server's messages: bench/bench_remote.py)."""
        log_, self._log = self._log, _Log(start=0.0)
        return log_.events

    # -- HTTP ------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/ws" and request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=True)
        body = await request.read()
        entry = _Http(
            self._log.now(),
            request.method,
            request.path,
            dict(request.query),
            body,
            request.headers.get("Content-Type", ""),
        )
        self._log.events.append(entry)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            data = await upstream.read()
            entry.status, entry.response_type, entry.response = (
                upstream.status,
                upstream.headers.get("Content-Type", ""),
                data,
            )
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "location")
            }
            return web.Response(status=upstream.status, body=data, headers=out_headers)

    # -- WebSocket -------------------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        conn = self._log.connections
        self._log.connections += 1
        self._log.events.append(_WsOpen(self._log.now(), conn, dict(request.query)))
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        ws_url = self.upstream.replace("http", "ws", 1) + request.path_qs
        async with self._session.ws_connect(ws_url, headers=headers, max_msg_size=0) as server:
            await asyncio.gather(self._pump_down(server, client, conn), self._pump_up(client, server))
        return client

    async def _pump_down(
        self, server: aiohttp.ClientWebSocketResponse, client: web.WebSocketResponse, conn: int
    ) -> None:
        async for msg in server:
            if msg.type == WSMsgType.TEXT:
                self._log.events.append(_WsMsg(self._log.now(), conn, text=msg.data))
                await client.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self._log.events.append(_WsMsg(self._log.now(), conn, data=msg.data))
                await client.send_bytes(msg.data)
            else:
                break
        await client.close()

    async def _pump_up(self, client: web.WebSocketResponse, server: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in client:
            if msg.type == WSMsgType.TEXT:
                await server.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await server.send_bytes(msg.data)
            else:
                break
        await server.close()


def build_transcript(
    scenario: str, events: list[_Http | _WsOpen | _WsMsg], recorded: dict[str, Any]
) -> Transcript:
    """The recorded events as a transcript: ids named, WebSocket messages attached to their triggers."""
    namer = IdNamer()
    exchanges: list[Exchange] = []
    messages: list[WsMessage] = []
    trigger: Exchange | None = None
    for event in events:
        if isinstance(event, _WsMsg):
            if trigger is None:
                continue
            text = namer(event.text) if event.text is not None else None
            since = event.t - (trigger.t + events[0].t)  # exchange times count from the first event
            messages.append(WsMessage(trigger.seq, since, event.conn, text, event.data))
            continue
        exchange = _exchange(len(exchanges), event, namer, events[0].t)
        exchanges.append(exchange)
        if is_trigger(exchange.method, exchange.path):
            trigger = exchange
    return Transcript(scenario, exchanges, messages, dict(namer.forms), recorded)


def _exchange(seq: int, event: _Http | _WsOpen, namer: IdNamer, t0: float) -> Exchange:
    import json

    if isinstance(event, _WsOpen):
        query = json.loads(namer(json.dumps(event.query)))
        return Exchange(seq, event.t - t0, "GET", "/ws", query, None)
    request = normalise_request_body(event.body, event.content_type)
    query = json.loads(namer(json.dumps(event.query)))
    path = namer(event.path)
    request = json.loads(namer(json.dumps(request))) if request is not None else None
    response = pack_body(event.response, event.response_type)
    if "json" in response or "text" in response:
        key = "json" if "json" in response else "text"
        response = json.loads(namer(json.dumps(response)))
        response = {key: response[key]}
    elif "gz64" in response:
        from tests.remote.replay.transcript import unpack_body

        text = namer(unpack_body(response).decode())
        response = pack_body(text.encode(), event.response_type)
    return Exchange(
        seq, event.t - t0, event.method, path, query, request, event.status, event.response_type, response
    )
