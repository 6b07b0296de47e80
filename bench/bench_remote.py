"""Studio's RemoteEngine vs a direct minimal ComfyUI client, same server, same workflow, side by side.

The direct client is what any script does (requests + websocket-client): POST /prompt, read the
WebSocket (decoding each binary preview frame) until the prompt ends, GET /view the result as it is
announced. Studio's RemoteEngine (started once and connected, as in the app) runs the same
`GenerationRequest`, whose graph (studio.remote.workflow) the direct client sends as is. Jobs
alternate (direct, Studio, Studio, direct, ...), in two phases:

- cached: the same job again and again; ComfyUI answers it from its cache (no denoising, no
  previews), so a job is nearly all protocol and client: the least noisy per-job figure;
- new seeds: every job denoises (`--steps`), the server streams a preview frame per step.

Both clients talk to the server through a pass-through proxy in this process
(tests/remote/replay/proxy.py) that notes when each request arrived and each WebSocket message went
out, so the server's own time is taken out of each job:

- per job, outside the server: submit -> result in hand, minus the server's window (the prompt's
  POST arriving -> its last WebSocket message to that client going out). Studio's added latency =
  Studio's median minus the direct client's. Goal: <= 50 ms.
- per preview frame: the frame leaving the proxy -> Studio's Step event with the decoded preview
  reaching the engine's subscribers (the direct client: -> the frame decoded to a numpy array).
  Studio's added cost = the difference of the medians. Goal: <= 5 ms.

    python bench/bench_remote.py --comfyui /work/comfy/ComfyUI --python /work/comfy/venv/bin/python
    python bench/bench_remote.py --url http://127.0.0.1:8188 --model NAME
    python bench/bench_remote.py --replay    # smoke: the replay of a recorded session (not a measure)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import struct
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import fmt_ratio, print_header, print_table

GOAL_JOB_MS = 50.0
GOAL_FRAME_MS = 5.0


@dataclass
class JobTiming:
    client: str
    submitted: float  # time.monotonic()
    done: float
    frames: list[float] = field(default_factory=list)  # when each preview was in hand (decoded)
    ok: bool = True

    @property
    def total(self) -> float:
        return self.done - self.submitted


# ---------------------------------------------------------------------------------------------
# The direct client


class DirectClient:
    """A minimal ComfyUI client: one WebSocket kept open, one prompt at a time."""

    def __init__(self, url: str) -> None:
        import requests
        import websocket

        self.url = url
        self.http = requests.Session()
        self.client_id = uuid.uuid4().hex
        ws_url = url.replace("http", "ws", 1) + f"/ws?clientId={self.client_id}"
        self.ws = websocket.create_connection(ws_url, timeout=600)

    def run(self, graph: dict[str, Any]) -> JobTiming:
        import numpy as np
        from PIL import Image

        prompt_id = uuid.uuid4().hex
        timing = JobTiming("direct", time.monotonic(), 0.0)
        body = {"prompt": graph, "client_id": self.client_id, "prompt_id": prompt_id}
        self.http.post(self.url + "/prompt", json=body, timeout=30).raise_for_status()
        while True:
            message = self.ws.recv()
            if isinstance(message, bytes):
                event, _ = struct.unpack(">II", message[:8])
                if event == 1:  # a preview: 4-byte format, then JPEG / PNG
                    np.asarray(Image.open(io.BytesIO(message[8:])).convert("RGB"))
                    timing.frames.append(time.monotonic())
                continue
            data = json.loads(message)
            kind, payload = data.get("type"), data.get("data", {})
            if payload.get("prompt_id") != prompt_id:
                continue
            if kind == "executed":
                for ref in payload.get("output", {}).get("images", []):
                    reply = self.http.get(self.url + "/view", params=ref, timeout=30)
                    reply.raise_for_status()
                    np.asarray(Image.open(io.BytesIO(reply.content)).convert("RGB"))
            elif kind in ("execution_error", "execution_interrupted"):
                timing.ok = False
                break
            elif kind == "execution_success" or (kind == "executing" and payload.get("node") is None):
                break
        timing.done = time.monotonic()
        return timing

    def close(self) -> None:
        self.ws.close()
        self.http.close()


# ---------------------------------------------------------------------------------------------
# Studio


class StudioClient:
    """Studio's RemoteEngine, started once (connected, as in the app), one job at a time."""

    def __init__(self, url: str) -> None:
        from studio.remote.engine import RemoteEngine
        from studio.remote.servers import ServerConfig

        self._lock = threading.Lock()
        self._seen: list[tuple[float, Any]] = []
        self.engine = RemoteEngine(self._publish, [ServerConfig(url)])
        self.engine.start()
        deadline = time.monotonic() + 30
        while not all(s.reachable for s in self.engine.server_status()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Studio's engine did not reach {url}: {self.engine.server_status()}")
            time.sleep(0.05)
        self.client_id = self.engine._workers[0].client.client_id  # to tell its WebSocket apart

    def _publish(self, event: Any) -> None:  # the engine's publisher thread, where the UI is told
        with self._lock:
            self._seen.append((time.monotonic(), event))

    def run(self, request: Any) -> JobTiming:
        from studio.core.events import Finished, Step

        submitted = time.monotonic()
        handle = self.engine.submit(request)
        outcome = handle.wait(600)
        with self._lock:
            mine = [(t, e) for t, e in self._seen if e.job_id == handle.id]
        done = next((t for t, e in mine if e is outcome), time.monotonic())
        frames = [t for t, e in mine if isinstance(e, Step) and e.preview is not None]
        return JobTiming("studio", submitted, done, frames, isinstance(outcome, Finished))

    def close(self) -> None:
        self.engine.shutdown(10)


# ---------------------------------------------------------------------------------------------
# Taking the server's time out


def outside_server(
    events: list[Any], client_id: str, conns: dict[int, str], job: JobTiming
) -> tuple[float, float]:
    """(submit -> the prompt's POST arriving at the proxy, its last WebSocket message to this client
    leaving the proxy -> the result in hand): the job's time outside the server."""
    start = next(
        e.t for e in events if getattr(e, "path", "") == "/prompt" and job.submitted <= e.t <= job.done
    )
    last = max(
        e.t
        for e in events
        if hasattr(e, "text") and conns.get(e.conn) == client_id and start <= e.t <= job.done
    )
    return start - job.submitted, job.done - last


def frame_latencies(events: list[Any], client_id: str, conns: dict[int, str], job: JobTiming) -> list[float]:
    """Each preview in the client's hands <- the last frame that left the proxy before it (frames
    come a step apart, far more than the latency; a preview the client dropped is simply absent)."""
    sent = [
        e.t
        for e in events
        if getattr(e, "data", None) is not None
        and conns.get(e.conn) == client_id
        and job.submitted <= e.t <= job.done
        and struct.unpack(">I", e.data[:4])[0] == 1
    ]
    if len(sent) != len(job.frames):
        print(f"  (note: {job.client}: {len(sent)} frames sent, {len(job.frames)} previews delivered)")
    return [got - max(t for t in sent if t <= got) for got in job.frames if any(t <= got for t in sent)]


def connections(events: list[Any]) -> dict[int, str]:
    return {e.conn: e.query.get("clientId", "") for e in events if hasattr(e, "query") and hasattr(e, "conn")}


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--comfyui", type=Path, help="a ComfyUI checkout to start (small random SD1.5 checkpoint)"
    )
    where.add_argument("--url", help="a running ComfyUI")
    where.add_argument(
        "--replay", action="store_true", help="smoke run against the replay of a recorded session"
    )
    parser.add_argument("--python", type=Path, help="ComfyUI's Python (with --comfyui)")
    parser.add_argument("--model", default="", help="checkpoint name (default: the server's first)")
    parser.add_argument("--jobs", type=int, default=6, help="timed jobs per client, each with a new seed")
    parser.add_argument("--cached-jobs", type=int, default=20, help="timed jobs per client, the same seed")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--preview-delay",
        type=float,
        default=0.1,
        help="--replay: seconds between a preview frame and the message before it (frames apart)",
    )
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    print_header("bench_remote: Studio's RemoteEngine vs a direct ComfyUI client", import_libs=False)

    from tests.remote.replay.proxy import RecordingProxy

    with contextlib.ExitStack() as stack:
        url, request = _server(args, stack)
        proxy = RecordingProxy(url)
        proxy.start()
        stack.callback(proxy.close)
        print(f"server: {url} (through a pass-through proxy at {proxy.url})")
        print(
            f"job: txt2img {request.width}x{request.height}, {request.steps} steps, {request.scheduler}, "
            f"model {request.model}\n"
        )
        direct = DirectClient(proxy.url)
        stack.callback(direct.close)
        studio = StudioClient(proxy.url)
        stack.callback(studio.close)
        clients = Clients(direct, studio, proxy)
        clients.job("direct", request), clients.job("studio", request)  # warm-up: model, prompt, cache
        clients.conns.update(connections(proxy.take_events()))
        results = {}
        print(f"cached: the same job again ({args.cached_jobs} per client): ComfyUI answers from its cache")
        results["cached"] = clients.phase(request, args.cached_jobs, new_seeds=False)
        if not args.replay:
            print(f"\nnew seed each job ({args.jobs} per client): the server denoises, previews stream")
            results["new seeds"] = clients.phase(request, args.jobs, new_seeds=True)
        _report(results, clients)
    return 0


def _server(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[str, Any]:
    """The server's URL and the request to run there."""
    import requests

    from studio.core.request import GenerationRequest

    if args.replay:
        from tests.remote.replay import scenarios
        from tests.remote.replay.server import ReplayServer
        from tests.remote.replay.transcript import load

        replay = ReplayServer(load("txt2img"), preview_delay=args.preview_delay)
        stack.callback(replay.close)
        print(
            "server: the REPLAY of a recorded ComfyUI session (timing compressed to 0): a smoke run, not a measure"
        )
        return replay.start(), scenarios.request("txt2img")
    if args.comfyui is not None:
        from tests.remote.comfy_server import start_comfyui

        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-remote-"))
        server = start_comfyui(args.comfyui, Path(work), python=args.python)
        stack.callback(server.stop)
        url = server.url
    else:
        url = args.url.rstrip("/")
    model = args.model or requests.get(url + "/models/checkpoints", timeout=30).json()[0]
    request = GenerationRequest(
        prompt="a small red fox, watercolour",
        negative_prompt="blurry",
        model=model,
        steps=args.steps,
        guidance=5.0,
        scheduler="DPM++ 2M Karras",
        seed=1234,
        width=args.size,
        height=args.size,
    )
    return url, request


def _graph(request: Any) -> dict[str, Any]:
    from studio.core.plan import plan
    from studio.core.request import check_request
    from studio.remote import workflow

    request = check_request(request)
    return workflow.build(request, plan(request), checkpoint=request.model).graph


@dataclass
class Clients:
    direct: DirectClient
    studio: StudioClient
    proxy: Any
    conns: dict[int, str] = field(default_factory=dict)  # proxy connection -> client id
    next_seed: int = 1_000_000

    def job(self, client: str, request: Any) -> JobTiming:
        return self.direct.run(_graph(request)) if client == "direct" else self.studio.run(request)

    def phase(self, request: Any, jobs: int, *, new_seeds: bool) -> Phase:
        """`jobs` per client, alternating (direct, Studio, Studio, direct, ...)."""
        timings: list[JobTiming] = []
        for rep in range(jobs):
            for client in ("direct", "studio") if rep % 2 == 0 else ("studio", "direct"):
                if new_seeds:  # else ComfyUI answers a repeated prompt from its cache
                    self.next_seed += 1
                this = request.replace(seed=self.next_seed) if new_seeds else request
                timing = self.job(client, this)
                timings.append(timing)
                print(
                    f"  rep {rep + 1}: {timing.client:<7} {timing.total * 1000:9.1f} ms "
                    f"({len(timing.frames)} previews){'' if timing.ok else ' FAILED'}",
                    flush=True,
                )
        events = self.proxy.take_events()
        self.conns.update(connections(events))
        return Phase(timings, events)

    @property
    def ids(self) -> dict[str, str]:
        return {"direct": self.direct.client_id, "studio": self.studio.client_id}


@dataclass
class Phase:
    timings: list[JobTiming]
    events: list[Any]


@dataclass
class Figures:
    total: float
    outside: float
    to_server: float
    after_server: float
    frames: list[float]

    @property
    def frame(self) -> float:
        return statistics.median(self.frames) if self.frames else float("nan")


def figures(phase: Phase, client: str, clients: Clients) -> Figures:
    mine = [t for t in phase.timings if t.client == client and t.ok]
    client_id = clients.ids[client]
    parts = [outside_server(phase.events, client_id, clients.conns, t) for t in mine]
    frames = [x for t in mine for x in frame_latencies(phase.events, client_id, clients.conns, t)]
    return Figures(
        statistics.median(t.total for t in mine),
        statistics.median(b + a for b, a in parts),
        statistics.median(b for b, _ in parts),
        statistics.median(a for _, a in parts),
        frames,
    )


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f} ms"


def _report(results: dict[str, Phase], clients: Clients) -> None:
    rows, table = [], {}
    for name, phase in results.items():
        for client in ("direct", "studio"):
            f = table[name, client] = figures(phase, client, clients)
            p90 = sorted(f.frames)[int(0.9 * (len(f.frames) - 1))] if f.frames else float("nan")
            rows.append(
                [
                    name,
                    "direct (requests + websocket-client)" if client == "direct" else "Studio RemoteEngine",
                    sum(1 for t in phase.timings if t.client == client and t.ok),
                    _ms(f.total),
                    _ms(f.outside),
                    _ms(f.to_server),
                    _ms(f.after_server),
                    f"{f.frame * 1000:.2f} ms (p90 {p90 * 1000:.2f}, n={len(f.frames)})" if f.frames else "-",
                ]
            )
    print()
    print_table(
        "Per job and per preview frame, same server, same workflow (medians)",
        [
            "jobs",
            "client",
            "n",
            "submit -> result",
            "outside the server",
            "of which: submit -> prompt at the server",
            "last message -> result",
            "preview frame: sent -> in hand",
        ],
        rows,
    )
    added = []
    for name in results:
        d, s = table[name, "direct"], table[name, "studio"]
        job = (s.outside - d.outside) * 1000
        added.append(
            [
                f"per job, {name} (outside the server)",
                f"{job:.1f} ms",
                f"<= {GOAL_JOB_MS:.0f} ms",
                "yes" if job <= GOAL_JOB_MS else "NO",
                fmt_ratio(s.total / d.total) + " (whole job)",
            ]
        )
    last = list(results)[-1]
    d, s = table[last, "direct"], table[last, "studio"]
    if d.frames and s.frames:
        frame = (s.frame - d.frame) * 1000
        added.append(
            [
                f"per preview frame, {last} (decode + event delivery)",
                f"{frame:.2f} ms",
                f"<= {GOAL_FRAME_MS:.0f} ms",
                "yes" if frame <= GOAL_FRAME_MS else "NO",
                fmt_ratio(s.frame / d.frame),
            ]
        )
    print_table(
        "Studio's added latency", ["what", "added by Studio", "goal", "met", "ratio Studio / direct"], added
    )


if __name__ == "__main__":
    raise SystemExit(main())
