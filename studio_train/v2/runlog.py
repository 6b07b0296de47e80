"""Progress files of a run, appended across sessions: steps.csv, progress.json, notes.txt."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


class RunLog:
    def __init__(self, work: Path, every: int = 25) -> None:
        self.dir = work
        self.dir.mkdir(parents=True, exist_ok=True)
        self.every = every
        self.csv = work / "steps.csv"
        if not self.csv.exists():
            self.csv.write_text("wall_time,phase,step,key,value\n", encoding="utf-8")
        self.start = time.monotonic()
        self.count = 0

    def step(self, phase: str, step: int, stats: dict[str, float]) -> None:
        self.count += 1
        if step % self.every and step != 0:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        with self.csv.open("a", encoding="utf-8") as f:
            for k, v in stats.items():
                f.write(f"{now},{phase},{step},{k},{v:.6g}\n")
        rate = self.count / max(1e-9, time.monotonic() - self.start)
        state = {"time": now, "phase": phase, "step": step, "steps_per_s_this_session": round(rate, 4)}
        state.update({k: round(v, 6) for k, v in stats.items()})
        (self.dir / "progress.json").write_text(json.dumps(state) + "\n", encoding="utf-8")
        log.info(
            "%s step %d %s (%.3f steps/s)", phase, step, {k: round(v, 5) for k, v in stats.items()}, rate
        )

    def note(self, message: str) -> None:
        log.info("%s", message)
        with (self.dir / "notes.txt").open("a", encoding="utf-8") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
