"""An aiohttp application served on 127.0.0.1 (a free port) from an event loop in a thread of its
own, so that synchronous code (tests, the threaded RemoteEngine, the recorder) can talk to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web


class BackgroundServer:
    def __init__(self, app: web.Application, name: str, port: int = 0) -> None:
        self._app = app
        self._port = port  # 0: a free one
        self._name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=self._name, daemon=True)
        self._thread.start()
        if not ready.wait(15) or not self.url:
            raise RuntimeError(f"{self._name} did not start")
        return self.url

    def call(self, make: Callable[[], Awaitable[object]], timeout: float = 15) -> object:
        """Run a coroutine on the server's loop from another thread and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(_wrap(make), self.loop).result(timeout)

    async def stop_listening(self) -> None:
        """On the loop: close every connection and the port (like a server process that died)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    def close(self) -> None:
        loop = self.loop
        if loop is None:
            return
        if not loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.stop_listening(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(15)
        self.loop = None

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self._port, reuse_address=True)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}"
        finally:
            ready.set()
        loop.run_forever()
        loop.close()


async def _wrap(make: Callable[[], Awaitable[object]]) -> object:
    return await make()
