"""Regenerate every replay transcript from a REAL ComfyUI, in one command:

    python -m tests.remote.replay.record --comfyui /work/comfy/ComfyUI --python /work/comfy/venv/bin/python

(or ``--url http://127.0.0.1:8188`` for a ComfyUI already running with the test checkpoint). Starts
ComfyUI on a free port with a small random-weight SD1.5-architecture checkpoint
(`tests.remote.comfy_server`, shared with the real-server tests), puts the recording proxy (`proxy`) between it and Studio's
`RemoteEngine`, runs each scenario (`scenarios`: txt2img, img2img, inpaint, outpaint, a cancel
mid-job, the model list + /queue + /system_stats) with a fresh engine, and writes
``transcripts/<scenario>.json``.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from studio.core.events import Event, Finished
from studio.remote.engine import RemoteEngine
from studio.remote.servers import ServerConfig
from tests.remote.comfy_server import start_comfyui
from tests.remote.replay import scenarios
from tests.remote.replay.proxy import RecordingProxy
from tests.remote.replay.transcript import TRANSCRIPTS

log = logging.getLogger("record")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--comfyui", type=Path, help="a ComfyUI checkout to start")
    where.add_argument(
        "--url", help="a running ComfyUI with the test checkpoint (tests/remote/comfy_server.py)"
    )
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="ComfyUI's Python")
    parser.add_argument("--out", type=Path, default=TRANSCRIPTS, help="where the transcripts go")
    parser.add_argument("--only", nargs="*", choices=scenarios.SCENARIOS, help="record only these")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("urllib3", "websocket", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="studio-record-") as work:
        server = None
        if args.comfyui is not None:
            server = start_comfyui(args.comfyui, Path(work), python=args.python)
            url = server.url
        else:
            url = args.url
        try:
            recorded = _about(url, args.comfyui)
            for scenario in args.only or scenarios.SCENARIOS:
                _record(url, scenario, args.out, recorded)
        finally:
            if server is not None:
                server.stop()
    return 0


def _record(url: str, scenario: str, out: Path, recorded: dict[str, object]) -> None:
    proxy = RecordingProxy(url)
    proxy.start()
    events: list[Event] = []
    engine = RemoteEngine(events.append, [ServerConfig(proxy.url)])
    engine.start()
    try:
        log.info("recording %s", scenario)
        result = scenarios.run(engine, scenario)
    finally:
        engine.shutdown()
    transcript = proxy.transcript(scenario, recorded)
    proxy.close()
    ends = [
        type(e).__name__ for e in result.events if type(e).__name__ in ("Finished", "Cancelled", "Failed")
    ]
    if scenario in scenarios.JOB_SCENARIOS and not ends:
        raise RuntimeError(f"{scenario}: the job did not end")
    if scenario != "cancel" and ends and ends[-1] != Finished.__name__:
        raise RuntimeError(f"{scenario}: the job ended with {result.events[-1]}")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{scenario}.json"
    transcript.save(path)
    log.info(
        "%s: %d exchanges, %d WebSocket messages, %.0f KB -> %s (%s)",
        scenario,
        len(transcript.exchanges),
        len(transcript.messages),
        path.stat().st_size / 1024,
        path,
        " ".join(type(e).__name__ for e in result.events),
    )


def _about(url: str, comfyui: Path | None) -> dict[str, object]:
    """What the transcripts were recorded from (for the reader of a transcript)."""
    import requests

    stats = requests.get(url + "/system_stats", timeout=10).json()
    about: dict[str, object] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "comfyui_version": stats.get("system", {}).get("comfyui_version", ""),
        "checkpoint": f"{scenarios.CHECKPOINT} (random weights, SD1.5 architecture)",
    }
    if comfyui is not None:
        rev = subprocess.run(
            ["git", "-C", str(comfyui), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        about["comfyui_commit"] = rev.stdout.strip()
    return about


if __name__ == "__main__":
    sys.exit(main())
