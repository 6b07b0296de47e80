"""Bad server input against the REPLAY of a real ComfyUI session (no ComfyUI needed): a wrong URL, a
server that is not ComfyUI, HTTP 500s, malformed JSON, an oversized image, the WebSocket closed or the
server gone mid-job, hostile file names. Each ends the job with a clear message (no traceback), and
the engine stays usable: the next job on a good replay finishes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from aiohttp import web

from studio.core.events import Failed, Finished, Outcome
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig
from tests.remote.comfy_server import free_port
from tests.remote.replay import scenarios
from tests.remote.replay.background import BackgroundServer
from tests.remote.replay.harness import Session, replay_session
from tests.remote.replay.server import HOSTILE_NAME, Fault, FaultKind, ReplayServer
from tests.remote.replay.transcript import load

TIMEOUT = 30.0
REQUEST = scenarios.request("txt2img")


def _fails_clearly(outcome: Outcome | None, *phrases: str) -> Failed:
    assert isinstance(outcome, Failed), outcome
    for phrase in phrases:
        assert phrase in outcome.message, outcome.message
    assert "Traceback" not in outcome.message and "Error(" not in outcome.message
    return outcome


def _next_job_finishes(session: Session) -> None:
    _wait_reachable(session.engine)
    outcome = session.engine.submit(REQUEST).wait(TIMEOUT)
    assert isinstance(outcome, Finished), outcome


def _wait_reachable(engine: RemoteEngine) -> None:
    """Until the engine's server is up again (its worker reconnects with backoff)."""
    deadline = time.monotonic() + TIMEOUT
    while not all(s.reachable for s in engine.server_status()):
        assert time.monotonic() < deadline, engine.server_status()
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("kind", "method", "path", "phrases"),
    [
        (FaultKind.HTTP_500, "POST", "/prompt", ("answered /prompt with an error (HTTP 500)",)),
        (FaultKind.HTTP_500, "GET", "/view", ("answered /view with an error (HTTP 500)",)),
        (FaultKind.HTTP_500, "GET", "/models/checkpoints", ("/models/checkpoints", "HTTP 500")),
        (FaultKind.MALFORMED_JSON, "POST", "/prompt", ("answer to /prompt is not valid JSON",)),
        (FaultKind.MALFORMED_JSON, "GET", "/object_info", ("not valid JSON", "is this a ComfyUI server?")),
        (FaultKind.OVERSIZED_IMAGE, "GET", "/view", ("9000x9000 pixels", "at most 64 megapixels")),
        (FaultKind.HUGE_BODY, "GET", "/view", ("/view is 100 MB", "at most 64 MB")),
        (FaultKind.HUGE_BODY, "GET", "/system_stats", ("/system_stats is 100 MB", "at most 32 MB")),
    ],
)
def test_bad_answer_fails_the_job_clearly_and_the_next_one_finishes(
    kind: FaultKind, method: str, path: str, phrases: tuple[str, ...]
) -> None:
    with replay_session("txt2img", [Fault(kind, path, method)]) as session:
        _fails_clearly(session.engine.submit(REQUEST).wait(TIMEOUT), *phrases)
        _next_job_finishes(session)


def test_a_decompression_bomb_is_refused_clearly() -> None:
    """40000 x 40000: past Pillow's own bomb limit, which speaks before Studio's pixel limit."""
    with replay_session("txt2img", [Fault(FaultKind.OVERSIZED_IMAGE, "/view", "GET", side=40000)]) as session:
        _fails_clearly(
            session.engine.submit(REQUEST).wait(TIMEOUT), "/view could not be read", "decompression bomb"
        )
        _next_job_finishes(session)


def test_websocket_closed_mid_job_fails_the_job_then_reconnects() -> None:
    with replay_session(
        "txt2img", [Fault(FaultKind.CLOSE_WS, "/prompt", "POST", after_messages=8)]
    ) as session:
        outcome = _fails_clearly(session.engine.submit(REQUEST).wait(TIMEOUT), "No other ComfyUI server")
        # as the close itself or the next ping finds it first
        assert re.search(
            r"closed the connection|connection to the ComfyUI server \S+ was lost", outcome.message
        )
        _next_job_finishes(session)  # the worker reconnected (backoff) to the same server


def test_a_malformed_websocket_message_mid_job() -> None:
    malformed = Fault(FaultKind.MALFORMED_WS, "/prompt", "POST", after_messages=8)
    with replay_session("txt2img", [malformed]) as session:
        _fails_clearly(session.engine.submit(REQUEST).wait(TIMEOUT), "WebSocket is not valid JSON")
        _next_job_finishes(session)  # the connection was kept: the next job runs on it


def test_server_gone_mid_job_fails_the_job_and_a_restarted_server_is_used_again() -> None:
    port = free_port()
    dies = Fault(FaultKind.DIES, "/prompt", "POST", after_messages=8)
    with replay_session("txt2img", [dies], port=port) as session:
        _fails_clearly(session.engine.submit(REQUEST).wait(TIMEOUT), "No other ComfyUI server")
        assert session.replay.gone
        with ReplayServer(load("txt2img"), port=port):  # the server comes back on its address
            _next_job_finishes(session)


def test_wrong_url_fails_clearly_and_the_engine_finds_the_server_once_it_listens() -> None:
    port = free_port()  # nothing listens there
    engine = RemoteEngine(lambda e: None, [ServerConfig(f"http://127.0.0.1:{port}")], connect_timeout=2.0)
    engine.start()
    try:
        _fails_clearly(engine.submit(REQUEST).wait(TIMEOUT), f"127.0.0.1:{port}", "connection refused")
        (status,) = engine.server_status()
        assert not status.reachable and "connection refused" in status.last_error
        with ReplayServer(load("txt2img"), port=port):
            _wait_reachable(engine)
            assert isinstance(engine.submit(REQUEST).wait(TIMEOUT), Finished)
    finally:
        engine.shutdown(5.0)


async def _web_page(request: web.Request) -> web.Response:
    return web.Response(text="<html><body><h1>Welcome to nginx!</h1></body></html>", content_type="text/html")


def test_a_server_that_is_not_comfyui_fails_clearly() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _web_page)
    page = BackgroundServer(app, "not-comfyui")
    url = page.start()
    engine = RemoteEngine(lambda e: None, [ServerConfig(url)], connect_timeout=2.0)
    engine.start()
    try:
        _fails_clearly(
            engine.submit(REQUEST).wait(TIMEOUT), url, "not ComfyUI's WebSocket", "is it a ComfyUI server?"
        )
        _fails_clearly(engine.submit(REQUEST).wait(TIMEOUT))  # again at once, no hang
        assert engine.models() == []
    finally:
        engine.shutdown(5.0)
        page.close()


def test_hostile_file_names_never_become_local_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server names its result "../../x.png" in subfolder "../..": through the CLI, the result
    is saved where --out says, and nothing is written anywhere else."""
    from studio import cli

    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(deep)
    hostile = Fault(FaultKind.HOSTILE_FILENAME, "/prompt", "POST")
    with ReplayServer(load("txt2img"), faults=[hostile]) as replay:
        code = cli.main(
            [
                "generate",
                *("--server", replay.url, "--model", REQUEST.model),
                *("--prompt", REQUEST.prompt, "--negative", REQUEST.negative_prompt),
                *("--steps", str(REQUEST.steps), "--guidance", str(REQUEST.guidance)),
                *("--scheduler", REQUEST.scheduler, "--seed", str(REQUEST.seed)),
                *("--width", str(REQUEST.width), "--height", str(REQUEST.height)),
                *("--out", str(out / "result.png")),
            ]
        )
        assert replay.mismatches == []
        assert ("GET", "/view") in replay.requests
    assert code == 0
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [os.path.join("out", "result.png")]
    assert not (tmp_path / "x.png").exists() and HOSTILE_NAME not in str(written)
