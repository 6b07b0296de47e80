"""Studio's RemoteEngine against REPLAYS of a real ComfyUI session (recorded by
`python -m tests.remote.replay.record`): each mode's events in order, previews as Step events, the
Finished images and metadata; a cancel mid-job; the model list and server status. No ComfyUI needed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import requests
import websocket

from studio.core.events import Cancelled, Failed, Finished, Queued, Started, Step
from studio.core.metadata import STUDIO_KEY
from studio.core.request import Mode, PreviewKind
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig
from tests.remote.comfy_server import CHECKPOINT
from tests.remote.replay import scenarios
from tests.remote.replay.harness import replay_session
from tests.remote.replay.server import ReplayServer
from tests.remote.replay.transcript import Transcript, load

TIMEOUT = 30.0
MODES = ("txt2img", "img2img", "inpaint", "outpaint")


@pytest.mark.parametrize("scenario", MODES)
def test_each_mode_replays_to_finished_with_previews_and_metadata(scenario: str) -> None:
    request = scenarios.request(scenario)
    with replay_session(scenario) as session:
        handle = session.engine.submit(request)
        outcome = handle.wait(TIMEOUT)
        events = session.of(handle.id)
        assert session.replay.mismatches == []
    assert isinstance(outcome, Finished), outcome
    kinds = [type(e) for e in events]
    assert kinds[0] is Queued and kinds[-1] is Finished
    started = kinds.index(Started)
    steps = [e for e in events if isinstance(e, Step)]
    assert kinds[started + 1 : -1] == [Step] * len(steps)  # Started, then only steps, then Finished
    plan = handle.plan
    assert plan is not None
    assert [s.step for s in steps] == list(range(1, plan.total_steps + 1))
    assert all(s.total == plan.total_steps for s in steps)
    for step in steps:  # ComfyUI's binary preview frames, decoded like local previews
        assert step.preview_kind is PreviewKind.X0
        assert isinstance(step.preview, np.ndarray) and step.preview.dtype == np.uint8
        assert step.preview.ndim == 3 and step.preview.shape[2] == 3

    assert outcome.seeds == [request.seed]
    (image,) = outcome.images
    assert image.size == plan.result_size
    params = outcome.parameters[0]
    assert params["Seed"] == request.seed and params["Steps"] == request.steps
    assert params["Sampler"] == "DPM++ 2M" and params["Schedule type"] == "Karras"
    assert params["Model"] == CHECKPOINT.removesuffix(".safetensors")
    assert params["prompt"] == request.prompt and params["negative_prompt"] == request.negative_prompt
    assert params[STUDIO_KEY]["request"]["mode"] == request.mode.value  # type: ignore[index]
    if request.mode is not Mode.TXT2IMG:
        assert params["Denoising strength"] == request.strength


@pytest.mark.parametrize("scenario", ["inpaint", "outpaint"])
def test_pixels_outside_the_effective_mask_stay_exact(scenario: str) -> None:
    """The result is composited through Studio's own plan, as the local engine does."""
    with replay_session(scenario) as session:
        handle = session.engine.submit(scenarios.request(scenario))
        outcome = handle.wait(TIMEOUT)
    assert isinstance(outcome, Finished), outcome
    plan = handle.plan
    assert plan is not None and plan.mask is not None and plan.image is not None
    keep = np.asarray(plan.mask) == 0
    result = np.asarray(outcome.images[0].convert("RGB"))
    source = np.asarray(plan.image.convert("RGB"))
    assert keep.any() and (~keep).any()
    assert np.array_equal(result[keep], source[keep])
    assert not np.array_equal(result[~keep], source[~keep])  # the masked part was generated
    if scenario == "outpaint":
        assert result.shape[:2] == (scenarios.SIZE, scenarios.SIZE + 32)


def test_every_step_keeps_its_preview_when_the_server_sends_frames_late() -> None:
    """A loaded ComfyUI sends a step's preview frame some 50-300 ms after its progress message (it
    encodes the JPEG first); the Step must still carry it, not go out bare with the frame dropped
    (seen in bench_remote: 5-7 of 8 previews when the engine flushed a step on every empty read)."""
    request = scenarios.request("txt2img")
    with replay_session("txt2img", preview_delay=0.3) as session:
        handle = session.engine.submit(request)
        outcome = handle.wait(TIMEOUT)
        steps = [e for e in session.of(handle.id) if isinstance(e, Step)]
    assert isinstance(outcome, Finished), outcome
    assert [s.step for s in steps] == [1, 2, 3]
    assert all(s.preview is not None for s in steps), [s.preview is not None for s in steps]


def test_cancel_mid_job_interrupts_the_prompt_on_the_server() -> None:
    with replay_session("cancel") as session:
        result = scenarios.run(session.engine, "cancel", timeout=TIMEOUT)
        assert ("POST", "/interrupt") in session.replay.requests
        assert session.replay.mismatches == []
    kinds = [type(e) for e in result.events]
    assert Step in kinds and Finished not in kinds
    ending = result.events[-1]
    assert isinstance(ending, Cancelled)
    assert ending.at_step >= 1


def test_model_list_queue_and_system_stats() -> None:
    with replay_session("info") as session:
        result = scenarios.run(session.engine, "info")
        assert session.replay.mismatches == []
    assert result.models == [CHECKPOINT]
    (status,) = result.statuses
    assert status.reachable and status.queue_length == 0 and not status.last_error  # type: ignore[attr-defined]


def test_the_same_job_twice_on_one_replay() -> None:
    request = scenarios.request("txt2img")
    with replay_session("txt2img") as session:
        first = session.engine.submit(request).wait(TIMEOUT)
        second = session.engine.submit(request).wait(TIMEOUT)
        assert session.replay.mismatches == []
    assert isinstance(first, Finished) and isinstance(second, Finished)
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(second.images[0]))


def test_a_request_the_recording_lacks_fails_clearly() -> None:
    """The replay is strict: a changed workflow is a clear failure naming the fix, never a hang."""
    request = scenarios.request("txt2img").replace(seed=7)
    with replay_session("txt2img") as session:
        outcome = session.engine.submit(request).wait(TIMEOUT)
        assert len(session.replay.mismatches) == 1
    assert isinstance(outcome, Failed)
    assert "no recorded answer for POST /prompt" in outcome.message
    assert "tests.remote.replay.record" in outcome.message


def test_recorded_timing_is_kept_scaled() -> None:
    """`time_scale` keeps the recorded pace, compressed: the job takes its recorded span times it."""
    transcript = load("txt2img")
    prompt = next(e for e in transcript.exchanges if e.path == "/prompt")
    span = max(m.dt for m in transcript.segment(prompt.seq))
    scale = 0.6 / span
    request = scenarios.request("txt2img")
    with ReplayServer(transcript, time_scale=scale) as replay:
        engine = RemoteEngine(lambda e: None, [ServerConfig(replay.url)])
        engine.start()
        try:
            start = time.monotonic()
            outcome = engine.submit(request).wait(TIMEOUT)
            elapsed = time.monotonic() - start
        finally:
            engine.shutdown(5.0)
    assert isinstance(outcome, Finished), outcome
    assert 1 < span < 600  # seconds, as recorded
    assert elapsed >= 0.5  # the executed message comes near the end of the recorded span


def _prompt_body(transcript: Transcript, client_id: str, prompt_id: str) -> dict[str, object]:
    recorded = next(e for e in transcript.exchanges if e.path == "/prompt").request["json"]
    return {**recorded, "client_id": client_id, "prompt_id": prompt_id}


def _prompt_messages(
    ws: websocket.WebSocket, until: Callable[[str, dict[str, Any]], bool]
) -> list[tuple[str, str]]:
    """(type, prompt id) of the text frames received until `until(type, data)` holds."""
    seen: list[tuple[str, str]] = []
    while True:
        frame = ws.recv()
        if isinstance(frame, bytes):
            continue
        message = json.loads(frame)
        kind, data = message["type"], message.get("data", {})
        seen.append((kind, str(data.get("prompt_id", ""))))
        if until(kind, data):
            return seen


def test_a_prompt_posted_while_the_last_one_plays_does_not_rename_its_messages() -> None:
    """The client posts its next prompt while the replay still plays the last one (a loaded CI
    machine): the last prompt's remaining messages keep its own id, the new one shows in /queue as
    running, and /history answers as ComfyUI does. (The replay once refilled the remaining
    messages with the new prompt's id: a 'finished' new job, then a /history it could not answer.)"""
    transcript = load("txt2img")
    client, first, second = (uuid.uuid4().hex for _ in range(3))
    with ReplayServer(transcript, time_scale=0.05) as replay:
        ws = websocket.create_connection(
            f"{replay.url.replace('http', 'ws')}/ws?clientId={client}", timeout=10
        )
        try:
            requests.post(replay.url + "/prompt", json=_prompt_body(transcript, client, first), timeout=5)
            _prompt_messages(ws, lambda kind, data: kind == "progress")
            requests.post(replay.url + "/prompt", json=_prompt_body(transcript, client, second), timeout=5)
            rest = _prompt_messages(ws, lambda kind, data: kind == "executing" and data["node"] is None)
            assert all(prompt in ("", first) for _, prompt in rest), rest  # the first prompt's to its end
            assert rest[-1] == ("executing", first)
            running = requests.get(replay.url + "/queue", timeout=5).json()["queue_running"]
            assert [item[1] for item in running] == [second]
            assert requests.get(f"{replay.url}/history/{second}", timeout=5).json() == {}  # still running
            done = requests.get(f"{replay.url}/history/{first}", timeout=5).json()
            assert done[first]["outputs"]["out_0"]["images"][0]["filename"].endswith(".png")
            rest = _prompt_messages(ws, lambda kind, data: kind == "executing" and data["node"] is None)
            assert rest[-1] == ("executing", second)
            assert requests.get(replay.url + "/queue", timeout=5).json()["queue_running"] == []
        finally:
            ws.close()
        assert replay.mismatches == []
