"""Launch to window shown, and model load times.

1. ``studio --smoke-exit-after-shown`` (offscreen) in a fresh process, interleaved with a bare
   PySide6 QMainWindow launched the same way (the floor any Qt app pays here). Reported: wall time
   from spawning the process to its report line, the app's own launch-to-shown time (from the
   start of ``studio.app.main``), and whether torch/diffusers were imported by then. Goal ≤ 1.5 s.
2. ``studio.engine.loading.load_pipeline`` in a fresh process for the built-in model and for
   SD1.5-architecture random weights saved once as a diffusers folder (fp32 safetensors, 4.3 GB,
   page cache warm after the first run): time to import torch + diffusers, and the load itself.

    python bench/bench_launch.py              # ~2 min (the first run also saves the SD1.5 folder, ~1 min)
    python bench/bench_launch.py --no-sd15    # launch and built-in model only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import REPO, Samples, builtin_model_present, fmt_s, interleave, print_header, print_table

GOAL_S = 1.5
BARE_WINDOW = """
import json, sys, time
t0 = time.perf_counter()
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1360, 860); w.show()
def report():
    print(json.dumps({"shown_ms": (time.perf_counter() - t0) * 1000, "torch_loaded": "torch" in sys.modules}))
    sys.stdout.flush(); app.quit()
QTimer.singleShot(0, report)
app.exec()
"""
CHILD_LOAD = """
import json, sys, time
t0 = time.perf_counter()
import torch
from diffusers import StableDiffusionPipeline  # noqa: F401  (the engine imports this on first use)
from studio.engine.loading import load_pipeline
t1 = time.perf_counter()
dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[sys.argv[2]]
loaded = load_pipeline(sys.argv[1], device="cpu", dtype=dtype)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "name": loaded.name}))
"""


def child_env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1")
    for var in ("STUDIO_CONFIG_DIR", "STUDIO_DATA_DIR", "STUDIO_OUTPUT_DIR", "STUDIO_LOG_DIR"):
        env[var] = str(scratch / var.split("_")[1].lower())
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def run_child(cmd: list[str], env: dict[str, str], results: list[dict[str, Any]]) -> float:
    """Wall seconds from spawning ``cmd`` to its JSON report line (kept in ``results``); exit not counted."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    wall, report = float("nan"), None
    for line in proc.stdout:
        if line.startswith("{"):
            wall, report = time.perf_counter() - t0, json.loads(line)
    _out, err = proc.communicate(timeout=600)
    if proc.returncode != 0 or report is None:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}):\n{err[-3000:]}")
    results.append(report)
    return wall


def launch_table(reps: int, env: dict[str, str]) -> list[list[Any]]:
    reports: dict[str, list[dict[str, Any]]] = {"studio": [], "bare": []}
    cases = {
        "studio": lambda: run_child(
            [sys.executable, "-m", "studio.app", "--smoke-exit-after-shown"], env, reports["studio"]
        ),
        "bare": lambda: run_child([sys.executable, "-c", BARE_WINDOW], env, reports["bare"]),
    }
    samples = interleave(cases, reps, warmup=1)
    rows = []
    for name, label in (("studio", "studio app (main window)"), ("bare", "bare QMainWindow")):
        s, reps_ = samples[name], reports[name][-reps:]
        shown = statistics.median(r["shown_ms"] for r in reps_) / 1000
        torch_by_then = "yes" if any(r.get("torch_loaded") for r in reps_) else "no"
        diffusers_by_then = "yes" if any(r.get("diffusers_loaded") for r in reps_) else "no"
        verdict = "meets" if s.median <= GOAL_S else "MISSES"
        ratio = s.median / samples["bare"].median
        rows.append(
            [label, fmt_s(s.median), f"{ratio:.2f}", fmt_s(shown), torch_by_then, diffusers_by_then, verdict]
        )
    return rows


def load_table(reps: int, env: dict[str, str], refs: list[tuple[str, str, str]]) -> list[list[Any]]:
    reports: dict[str, list[dict[str, Any]]] = {label: [] for label, _ref, _dt in refs}

    def case(label: str, ref: str, dtype: str) -> Any:
        return lambda: run_child([sys.executable, "-c", CHILD_LOAD, ref, dtype], env, reports[label])

    samples: dict[str, Samples] = interleave(
        {label: case(label, ref, dtype) for label, ref, dtype in refs}, reps, warmup=1
    )
    rows = []
    for label, _ref, _dtype in refs:
        got = reports[label][-reps:]
        imp = statistics.median(r["import_s"] for r in got)
        load = statistics.median(r["load_s"] for r in got)
        rows.append([label, fmt_s(imp), fmt_s(load), fmt_s(samples[label].median)])
    return rows


def model_refs(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    refs = []
    if builtin_model_present():
        refs.append(("built-in studio-mini, fp32", "", "fp32"))
    if not args.no_sd15:
        from _models import sd15_folder

        folder = str(sd15_folder())
        refs += [
            ("SD1.5 architecture folder, fp32", folder, "fp32"),
            ("SD1.5 architecture folder, bf16", folder, "bf16"),
        ]
    return refs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5, help="launch repetitions")
    parser.add_argument("--load-reps", type=int, default=2, help="model load repetitions")
    parser.add_argument("--no-sd15", action="store_true")
    parser.add_argument("--no-load", action="store_true", help="launch only")
    args = parser.parse_args(argv)
    print_header("Launch and model load", import_libs=False)
    env = child_env(Path(tempfile.mkdtemp(prefix="studio-bench-launch-")))
    rows = launch_table(args.reps, env)
    headers = [
        "launch",
        "spawn -> shown (wall)",
        "vs bare Qt",
        "in-app shown",
        "torch by then",
        "diffusers by then",
        f"goal ≤ {GOAL_S:g} s",
    ]
    print_table("Launch to window shown (offscreen, medians)", headers, rows)
    if not args.no_load:
        refs = model_refs(args)
        if refs:
            rows = load_table(args.load_reps, env, refs)
            headers = ["model", "import torch + diffusers", "load_pipeline", "process wall"]
            print_table("Model load in a fresh process (page cache warm, medians)", headers, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
