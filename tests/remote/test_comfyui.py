"""The remote engine against a REAL ComfyUI (marked `comfyui`: run when STUDIO_COMFYUI is set; see
tests/remote/comfy_server.py). 64x64 images, a few steps, a small random SD1.5-architecture model."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.events import Cancelled, Event, Failed, Finished, Loading, Started, Step
from studio.core.metadata import build_parameters
from studio.core.plan import plan
from studio.core.request import (
    GenerationRequest,
    MaskOptions,
    Mode,
    OutpaintOptions,
    PreviewKind,
    check_request,
)
from studio.remote import workflow
from studio.remote.client import ComfyClient
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig
from tests.remote.comfy_server import CHECKPOINT, ComfyProcess, start_comfyui

pytestmark = pytest.mark.comfyui
TIMEOUT = 600  # seconds for a job on a loaded 2-core machine


class Recorder:
    """Every event the engine publishes, by job (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, job_id: int) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.job_id == job_id]

    def servers(self, job_id: int) -> list[str]:
        """The servers a job was sent to, in order (from its Loading events)."""
        return [e.message.rsplit(" ", 1)[-1].rstrip("…") for e in self.of(job_id) if isinstance(e, Loading)]


@contextmanager
def remote(*urls: str, silence_limit: float = 8.0) -> Iterator[tuple[RemoteEngine, Recorder]]:
    recorder = Recorder()
    engine = RemoteEngine(recorder, [ServerConfig(url) for url in urls], silence_limit=silence_limit)
    engine.start()
    try:
        yield engine, recorder
    finally:
        assert engine.shutdown(30)


def _model(engine: RemoteEngine) -> str:
    names = engine.models()
    return CHECKPOINT if CHECKPOINT in names else names[0]


def _request(engine: RemoteEngine, **changes: object) -> GenerationRequest:
    base = GenerationRequest(prompt="a red fox in snow", negative_prompt="blurry", width=64, height=64, steps=3,
                             seed=11, scheduler="Euler", model=_model(engine))  # fmt: skip
    return base.replace(**changes)


def _finished(outcome: object) -> Finished:
    assert isinstance(outcome, Finished), outcome
    return outcome


def _image(seed: int = 3, size: tuple[int, int] = (64, 64)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def test_txt2img_batch_with_live_previews_and_local_metadata(comfy_url: str) -> None:
    with remote(comfy_url) as (engine, recorder):
        request = _request(engine, batch=2, preview=PreviewKind.X0)
        handle = engine.submit(request)
        done = _finished(handle.wait(TIMEOUT))
        assert [im.size for im in done.images] == [(64, 64), (64, 64)] and done.seeds == [11, 12]
        steps = [e for e in recorder.of(handle.id) if isinstance(e, Step)]
        assert [s.step for s in steps] == [1, 2, 3] and {s.total for s in steps} == {3}
        previews = [s.preview for s in steps if s.preview is not None]
        assert previews, "no preview frame arrived as a Step"
        assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in previews)
        assert all(s.preview_kind is PreviewKind.X0 for s in steps if s.preview is not None)
        assert recorder.servers(handle.id) == [ServerConfig(comfy_url).name]
        checked = check_request(request)
        model = workflow.model_label(request.model)
        expected = [build_parameters(checked, seed, model, "", (64, 64)) for seed in (11, 12)]
        assert done.parameters == expected
        # batch image i is seed + i: made again alone from its metadata, it is the same image
        again = _finished(engine.submit(_request(engine, seed=12)).wait(TIMEOUT))
        assert np.array_equal(np.asarray(again.images[0]), np.asarray(done.images[1]))


def test_img2img_runs_the_strength_steps(comfy_url: str) -> None:
    with remote(comfy_url) as (engine, recorder):
        init = _image()
        handle = engine.submit(_request(engine, mode=Mode.IMG2IMG, init_image=init, steps=4, strength=0.5))
        done = _finished(handle.wait(TIMEOUT))
        assert done.images[0].size == (64, 64)
        started = next(e for e in recorder.of(handle.id) if isinstance(e, Started))
        assert started.total_steps == 2
        assert [e.step for e in recorder.of(handle.id) if isinstance(e, Step)] == [1, 2]
        assert done.parameters[0]["Denoising strength"] == 0.5


def test_inpaint_keeps_every_pixel_outside_the_mask_exact(comfy_url: str) -> None:
    with remote(comfy_url) as (engine, _):
        init = _image(5)
        mask = Image.new("L", init.size, 0)
        mask.paste(255, (20, 12, 44, 40))
        request = _request(engine, mode=Mode.INPAINT, init_image=init, mask=mask, strength=1.0,
                           mask_options=MaskOptions(feather=3, fill="noise"))  # fmt: skip
        done = _finished(engine.submit(request).wait(TIMEOUT))
        effective = np.asarray(plan(check_request(request)).mask)
        result, original = np.asarray(done.images[0]), np.asarray(init)
        assert result.shape == original.shape
        assert np.array_equal(result[effective == 0], original[effective == 0])
        assert not np.array_equal(result[effective == 255], original[effective == 255])


def test_outpaint_grows_the_image_and_keeps_the_original_outside_the_overlap(comfy_url: str) -> None:
    with remote(comfy_url) as (engine, recorder):
        init = _image(7)
        request = _request(engine, mode=Mode.OUTPAINT, init_image=init, strength=1.0,
                           outpaint=OutpaintOptions(right=32, overlap=8))  # fmt: skip
        handle = engine.submit(request)
        done = _finished(handle.wait(TIMEOUT))
        started = next(e for e in recorder.of(handle.id) if isinstance(e, Started))
        assert done.images[0].size == started.plan.result_size == (96, 64)
        effective = np.asarray(started.plan.mask)
        result, grown = np.asarray(done.images[0]), np.asarray(started.plan.image)
        assert np.array_equal(result[effective == 0], grown[effective == 0])
        assert np.array_equal(result[:, :56], np.asarray(init)[:, :56])  # the original up to the overlap


def test_cancel_stops_a_running_job_within_a_step_and_the_server_goes_on(comfy_url: str) -> None:
    with remote(comfy_url) as (engine, recorder):
        handle = engine.submit(_request(engine, steps=60, seed=21))
        first_step = threading.Event()
        handle.subscribe(lambda e: first_step.set() if isinstance(e, Step) else None)
        assert first_step.wait(TIMEOUT)
        asked = time.monotonic()
        assert handle.cancel()
        outcome = handle.wait(60)
        assert isinstance(outcome, Cancelled), outcome
        assert 1 <= outcome.at_step < 60
        steps_after = [e for e in recorder.of(handle.id) if isinstance(e, Step) and e.step > outcome.at_step]
        assert not steps_after
        print(f"cancel took {time.monotonic() - asked:.2f} s")
        _finished(engine.submit(_request(engine, steps=2)).wait(TIMEOUT))  # the server is usable after


def test_cancel_deletes_a_prompt_waiting_in_the_servers_queue(comfy_url: str) -> None:
    other = ComfyClient(ServerConfig(comfy_url))  # someone else's long job keeps the server busy
    with remote(comfy_url) as (engine, recorder):
        request = check_request(_request(engine, steps=80, seed=31))
        theirs = other.queue_prompt(
            workflow.build(request, plan(request), checkpoint=request.model).graph, uuid.uuid4().hex
        )
        try:
            handle = engine.submit(_request(engine, steps=3, seed=32))
            started = threading.Event()
            handle.subscribe(lambda e: started.set() if isinstance(e, Started) else None)
            assert started.wait(TIMEOUT)
            time.sleep(1.0)  # the prompt is posted right after Started
            queued = other.queued_prompt_ids()
            assert len(queued) == 1 and theirs not in queued
            assert handle.cancel()
            outcome = handle.wait(15)
            assert isinstance(outcome, Cancelled) and outcome.at_step == 0, outcome
            assert other.queued_prompt_ids() == set()
        finally:
            other.interrupt(theirs)
            other.close()


def test_six_jobs_are_spread_over_two_servers(two_comfy_urls: list[str]) -> None:
    with remote(*two_comfy_urls) as (engine, recorder):
        handles = [engine.submit(_request(engine, steps=2, seed=40 + i)) for i in range(6)]
        for handle in handles:
            _finished(handle.wait(TIMEOUT))
        used = [recorder.servers(h.id)[0] for h in handles]
        names = [ServerConfig(url).name for url in two_comfy_urls]
        assert sorted(set(used)) == sorted(names)
        assert min(used.count(name) for name in names) >= 2, used
        assert not engine.busy


def test_a_server_killed_mid_job_its_job_finishes_on_the_other(
    killable_comfy: ComfyProcess, comfy_url: str
) -> None:
    doomed = ServerConfig(killable_comfy.url).name
    with remote(killable_comfy.url, comfy_url) as (engine, recorder):
        handles = [engine.submit(_request(engine, steps=steps, seed=50 + steps)) for steps in (12, 12)]
        deadline = time.monotonic() + TIMEOUT
        victim = None
        while victim is None and time.monotonic() < deadline:  # a job running on the doomed server
            for handle in handles:
                events = recorder.of(handle.id)
                if recorder.servers(handle.id)[:1] == [doomed] and any(isinstance(e, Step) for e in events):
                    victim = handle
            time.sleep(0.1)
        assert victim is not None, "no job ran on the server to kill"
        steps_before = len([e for e in recorder.of(victim.id) if isinstance(e, Step)])
        killable_comfy.kill()
        killed = time.monotonic()
        while engine.server_status()[0].reachable and time.monotonic() - killed < 30:
            time.sleep(0.05)
        detected = time.monotonic() - killed
        assert detected < 5, f"a killed server was noticed after {detected:.1f} s"
        for handle in handles:
            _finished(handle.wait(TIMEOUT))
        assert recorder.servers(victim.id) == [doomed, ServerConfig(comfy_url).name]
        starts = [e for e in recorder.of(victim.id) if isinstance(e, Started)]
        assert len(starts) == 2 and not starts[0].warnings
        assert doomed in starts[1].warnings[0] and "another server" in starts[1].warnings[0]
        print(f"killed server noticed after {detected:.2f} s ({steps_before} steps had arrived)")


def test_a_server_killed_mid_job_with_no_other_fails_the_job_and_is_reconnected_when_back(
    killable_comfy: ComfyProcess, comfy_checkout: Path, tmp_path: Path
) -> None:
    with remote(killable_comfy.url) as (engine, recorder):
        request = GenerationRequest(prompt="x", width=64, height=64, steps=30, scheduler="Euler")
        handle = engine.submit(request)
        running = threading.Event()
        handle.subscribe(lambda e: running.set() if isinstance(e, Step) else None)
        assert running.wait(TIMEOUT)
        killable_comfy.kill()
        outcome = handle.wait(10)
        assert isinstance(outcome, Failed), outcome
        assert "No other ComfyUI server is reachable" in outcome.message
        port = int(killable_comfy.url.rsplit(":", 1)[1])
        back = start_comfyui(comfy_checkout, tmp_path / "back", port=port)  # the same address again
        try:
            deadline = time.monotonic() + 60  # the worker retries with backoff (at most 30 s apart)
            while not engine.server_status()[0].reachable and time.monotonic() < deadline:
                time.sleep(0.2)
            assert engine.server_status()[0].reachable
            _finished(engine.submit(request.replace(steps=2)).wait(TIMEOUT))
        finally:
            back.stop()


def test_metadata_is_the_local_engines_for_the_same_request(comfy_url: str) -> None:
    """Same request, same checkpoint file: the parameters the saver writes are the local engine's,
    except the model hash (a server does not give it) and the model reference in Studio's JSON."""
    from studio.engine.engine import Engine
    from tests.remote.comfy_server import small_sd15_checkpoint

    path = small_sd15_checkpoint()
    with remote(comfy_url) as (engine, _):
        remote_request = _request(engine, steps=2, batch=2, clip_skip=2)
        remote_done = _finished(engine.submit(remote_request).wait(TIMEOUT))
    local = Engine(lambda e: None, device="cpu", precision="fp32")
    local.start()
    try:
        local_done = _finished(local.submit(remote_request.replace(model=str(path))).wait(TIMEOUT))
    finally:
        local.shutdown(30)
    for theirs, ours in zip(local_done.parameters, remote_done.parameters, strict=True):
        theirs, ours = dict(theirs), dict(ours)
        assert theirs.pop("Model hash") and "Model hash" not in ours
        local_json, remote_json = theirs.pop("studio"), ours.pop("studio")
        assert theirs == ours
        for key in ("request", "model_hash"):
            local_json.pop(key), remote_json.pop(key)  # type: ignore[union-attr]
        assert local_json == remote_json


def test_a_server_that_stops_answering_is_noticed_within_seconds_and_its_job_moved(
    killable_comfy: ComfyProcess, comfy_url: str
) -> None:
    """A hung server (the process stopped: its connections stay open, nothing answers) is noticed by
    the WebSocket heartbeat (no frame or pong for `silence_limit` seconds)."""
    import os
    import signal

    hung = ServerConfig(killable_comfy.url).name
    with remote(killable_comfy.url, comfy_url, silence_limit=4.0) as (engine, recorder):
        handles = [engine.submit(_request(engine, steps=12, seed=70 + i)) for i in range(2)]
        deadline = time.monotonic() + TIMEOUT
        victim = None
        while victim is None and time.monotonic() < deadline:
            for handle in handles:
                ran_there = recorder.servers(handle.id)[:1] == [hung]
                if ran_there and any(isinstance(e, Step) for e in recorder.of(handle.id)):
                    victim = handle
            time.sleep(0.1)
        assert victim is not None, "no job ran on the server to stop"
        os.kill(killable_comfy.process.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            while engine.server_status()[0].reachable and time.monotonic() - stopped < 30:
                time.sleep(0.05)
            noticed = time.monotonic() - stopped
            assert noticed < 4.0 + 3.0, f"a hung server was noticed after {noticed:.1f} s"
            _finished(victim.wait(TIMEOUT))
            assert recorder.servers(victim.id) == [hung, ServerConfig(comfy_url).name]
            print(f"hung server noticed after {noticed:.2f} s")
        finally:
            os.kill(killable_comfy.process.pid, signal.SIGCONT)
