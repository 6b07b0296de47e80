"""Loss log (CSV) and a one-line progress file that can be checked on during a run."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)


class Progress:
    def __init__(self, work_dir: Path) -> None:
        self.dir = work_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.csv = self.dir / "loss.csv"
        self.csv.write_text("time_s,phase,step,frac,key,value\n", encoding="utf-8")
        self.file = self.dir / "progress.json"
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def log(self, phase: str, step: int, frac: float, stats: dict[str, float]) -> None:
        t = self.elapsed()
        with self.csv.open("a", encoding="utf-8") as f:
            for k, v in stats.items():
                f.write(f"{t:.1f},{phase},{step},{frac:.4f},{k},{v:.6g}\n")
        state = {"elapsed_s": round(t, 1), "phase": phase, "step": step, "phase_frac": frac}
        state.update({k: round(v, 5) for k, v in stats.items()})
        self.file.write_text(json.dumps(state) + "\n", encoding="utf-8")
        log.info("%s step %d (%.0f%%) %s", phase, step, 100 * frac, state)

    def note(self, message: str) -> None:
        log.info("%s", message)
        with (self.dir / "notes.txt").open("a", encoding="utf-8") as f:
            f.write(f"{self.elapsed():.1f}s {message}\n")
