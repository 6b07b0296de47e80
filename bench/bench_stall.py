"""Event-loop stalls in the GUI thread while the engine generates.

A 10 ms QTimer (precise) in the GUI thread of an offscreen QApplication records its gaps while a
txt2img job runs on the real Engine thread, its events reaching the GUI through the real bridge
(``studio.ui.bridge``) into the real main window (``studio.app.build_window``: previews painted,
the result saved as a PNG, history thumbnail), as in the app. Cases, interleaved: previews every
step / off, x engine torch threads 1 / 2. Goal: largest gap ≤ 50 ms. The table also gives the job
and step times, so the thread-count choice weighs stalls against speed.

    python bench/bench_stall.py                  # SD1.5 architecture bf16 512x512 + studio-mini (~3 min)
    python bench/bench_stall.py --configs tiny:fp32 --steps 20   # quick
    python bench/bench_stall.py --compare-omp    # the same, with OMP_WAIT_POLICY unset and PASSIVE
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _common import CACHE_DIR, builtin_model_present, fmt_s, percentile, print_header, print_table
from _harness import Config, make_request, model_for, parse_configs

TICK_MS = 10
GOAL_MS = 50.0
TAIL_S = 0.3  # keep recording after the terminal event: the GUI saves the PNG then


@dataclass
class Case:
    threads: int
    preview: bool

    @property
    def name(self) -> str:
        return f"{self.threads} thread{'s' if self.threads > 1 else ''}, previews {'every step' if self.preview else 'off'}"


@dataclass
class Record:
    gaps: list[float] = field(default_factory=list)  # seconds between timer ticks
    job_seconds: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    steps_shown: int = 0
    explained: list[str] = field(default_factory=list)  # what the GUI handled during long gaps


class TickRecorder:
    """A precise 10 ms QTimer whose tick-to-tick gaps are recorded while ``active``."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.active = False
        self.gaps: list[float] = []
        self.ends: list[float] = []  # perf_counter at the end of each recorded gap
        self._last = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.active and self._last:
            self.gaps.append(now - self._last)
            self.ends.append(now)
        self._last = now

    def begin(self) -> None:
        self.gaps, self.ends, self._last, self.active = [], [], time.perf_counter(), True

    def end(self) -> list[float]:
        self.active = False
        return self.gaps


class AppUnderTest:
    """The real main window (or, if it cannot be built, the bridge + an ImageView) with an injected model."""

    def __init__(self, app: Any, loaded: Any, precision: str, threads: int) -> None:
        self.app, self.loaded, self.precision = app, loaded, precision
        self.threads = threads
        self.window: Any = None
        self.bridge = self._build()

    def _factory(self, publish: Callable[[Any], None]) -> Any:
        from studio.engine.engine import Engine

        return Engine(
            publish,
            device="cpu",
            precision=self.precision,
            torch_threads=self.threads,
            loader=lambda ref, **_kw: self.loaded,
            cache_dir=CACHE_DIR / "latent_rgb",
        )

    def _build(self) -> Any:
        from studio.app import build_window
        from studio.core.paths import user_dirs

        self.window = build_window(self.app, user_dirs().ensure(), lambda _settings: self._factory)
        self.window.show()
        return self.window.bridge

    def close(self) -> None:
        self.bridge.shutdown(timeout=60)
        self.window.close()

    def submit(self, request: Any) -> Any:
        """The window's Generate with `request`; returns the job (`studio.ui.bridge.QtJob`)."""
        self.window.vm.set_request(request)
        self.window.generation.preview_interval = 1 if request.preview.value != "none" else 0
        job = self.window.generate()
        if job is None:
            raise RuntimeError("the window refused to generate (see the banner)")
        return job


def run_job(ut: AppUnderTest, ticks: TickRecorder, request: Any, record: Record) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    from studio.core.events import Failed

    loop = QEventLoop()
    state: dict[str, Any] = {"end": None, "steps": [], "failed": None}

    def on_step(event: Any) -> None:
        state["steps"].append(time.perf_counter())

    def on_end(event: Any) -> None:
        state["end"] = time.perf_counter()
        if isinstance(event, Failed):
            state["failed"] = f"{event.message}\n{event.detail}"
        QTimer.singleShot(int(TAIL_S * 1000), loop.quit)

    handled: list[tuple[float, str]] = []  # (after the GUI handled it, event name)

    def on_event(event: Any) -> None:
        handled.append((time.perf_counter(), type(event).__name__ + _step_label(event)))

    ut.bridge.any_event.connect(on_event)
    ticks.begin()
    t0 = time.perf_counter()
    job = ut.submit(request)
    job.step.connect(on_step)  # this job's signals only; its events arrive after we return to the loop
    job.ended.connect(on_end)
    loop.exec()
    gaps = ticks.end()
    record.gaps += gaps
    record.explained += explain(gaps, ticks.ends, handled, t0)
    ut.bridge.any_event.disconnect(on_event)
    if state["failed"]:
        raise RuntimeError(f"job failed: {state['failed']}")
    record.job_seconds.append(state["end"] - t0)
    steps = state["steps"]
    record.step_seconds += [b - a for a, b in zip(steps, steps[1:], strict=False)]
    record.steps_shown += len(steps)


def _step_label(event: Any) -> str:
    step = getattr(event, "step", None)
    if step is None:
        return ""
    return f" {step}" + (" +preview" if getattr(event, "preview", None) is not None else "")


def explain(gaps: list[float], ends: list[float], handled: list[tuple[float, str]], t0: float) -> list[str]:
    """For each gap over the goal: when it ended and which events the GUI finished handling in it."""
    lines = []
    for gap, end in zip(gaps, ends, strict=True):
        if gap * 1000 <= GOAL_MS:
            continue
        inside = [name for t, name in handled if end - gap < t <= end]
        lines.append(
            f"{gap * 1000:6.1f} ms gap ending {end - t0:7.2f} s after submit; GUI handled: {inside or '-'}"
        )
    return lines


def idle_gaps(ticks: TickRecorder, seconds: float = 2.0) -> list[float]:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    ticks.begin()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return ticks.end()


def measure_model(
    app: Any, config: Config, loaded: Any, size: int, args: argparse.Namespace
) -> dict[str, Record]:
    ticks = TickRecorder()
    # one window + bridge + engine per thread count (job ids restart with a new engine, and the
    # bridge ignores Steps of job ids it saw finish, so the engine is not restarted in place)
    apps = {t: AppUnderTest(app, loaded, config.dtype, t) for t in (1, 2)}
    cases = [Case(t, p) for t, p in ((1, True), (1, False), (2, False), (2, True))]
    records = {c.name: Record() for c in cases}
    try:
        for ut in apps.values():  # first calls in a process (and on a new engine thread) are slow
            run_job(ut, ticks, make_request(loaded.ref, size, 1, preview=True), Record())
        for rep in range(args.reps):
            for case in cases if rep % 2 == 0 else cases[::-1]:
                request = make_request(loaded.ref, size, args.steps, preview=case.preview, seed=rep)
                before = len(records[case.name].explained)
                run_job(apps[case.threads], ticks, request, records[case.name])
                report_job(rep, case, records[case.name], before)
        records["idle (no job)"] = Record(gaps=idle_gaps(ticks))
    finally:
        for ut in apps.values():
            ut.close()
        ticks.timer.stop()
    return records


def report_job(rep: int, case: Case, rec: Record, explained_before: int, limit: int = 4) -> None:
    print(f"  rep {rep + 1}: {case.name:<34} job {rec.job_seconds[-1]:7.2f} s", flush=True)
    new = rec.explained[explained_before:]
    for line in new[:limit]:
        print(f"      {line}")
    if len(new) > limit:
        print(f"      ... and {len(new) - limit} more gaps over {GOAL_MS:g} ms")


def rows_for(config: Config, size: int, records: dict[str, Record]) -> list[list[Any]]:
    rows = []
    for name, rec in records.items():
        gaps_ms = [g * 1000 for g in rec.gaps]
        worst = max(gaps_ms) if gaps_ms else float("nan")
        rows.append(
            [
                f"{config.model} {config.dtype} {size}x{size}",
                name,
                f"{worst:.1f} ms",
                f"{percentile(gaps_ms, 99):.1f} ms",
                sum(g > GOAL_MS for g in gaps_ms),
                len(gaps_ms),
                fmt_s(statistics.median(rec.job_seconds)) if rec.job_seconds else "-",
                fmt_s(statistics.median(rec.step_seconds)) if rec.step_seconds else "-",
                "meets" if worst <= GOAL_MS else "MISSES",
            ]
        )
    return rows


def recommend(results: list[tuple[str, dict[str, Record]]]) -> str:
    """The thread count whose worst gap meets the goal on every model, fastest among those."""
    lines = []
    for label, records in results:
        by_threads: dict[int, tuple[float, float]] = {}
        for threads in (1, 2):
            recs = [r for n, r in records.items() if n.startswith(f"{threads} thread")]
            worst = max((max(r.gaps) for r in recs if r.gaps), default=float("nan")) * 1000
            job = statistics.median([s for r in recs for s in r.job_seconds] or [float("nan")])
            by_threads[threads] = (worst, job)
        ok = [t for t, (w, _j) in by_threads.items() if w <= GOAL_MS]
        pick = (
            min(ok, key=lambda t: by_threads[t][1]) if ok else min(by_threads, key=lambda t: by_threads[t][0])
        )
        detail = ", ".join(f"{t} thr: worst {w:.0f} ms, job {j:.2f} s" for t, (w, j) in by_threads.items())
        lines.append(f"  {label}: {pick} thread(s)  ({detail})")
    return "\n".join(lines)


def compare_omp_policies(child_args: list[str]) -> int:
    """OMP_WAIT_POLICY is read when torch's OpenMP starts, so each policy needs its own process."""
    import subprocess

    code = 0
    for policy in ("", "PASSIVE"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        print(f"\n######## OMP_WAIT_POLICY={policy or '(unset: libgomp spins)'}", flush=True)
        code |= subprocess.run([sys.executable, __file__, *child_args], env=env).returncode
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", default="sd15:bf16,mini:fp32", help="model:dtype list (tiny, mini, sd15)"
    )
    parser.add_argument("--steps", type=int, default=0, help="0 = 3 for sd15, 20 for smaller models")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument(
        "--compare-omp",
        action="store_true",
        help="run the whole benchmark twice, in child processes: OMP_WAIT_POLICY unset, then PASSIVE",
    )
    args = parser.parse_args(argv)
    if args.compare_omp:
        return compare_omp_policies(
            [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--compare-omp"]
        )
    scratch = tempfile.mkdtemp(prefix="studio-bench-stall-")
    for var in ("STUDIO_CONFIG_DIR", "STUDIO_DATA_DIR", "STUDIO_OUTPUT_DIR", "STUDIO_LOG_DIR"):
        os.environ[var] = os.path.join(scratch, var.split("_")[1].lower())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["bench_stall"])
    print_header("GUI event-loop stalls during generation")
    print(
        f"{TICK_MS} ms precise QTimer on the GUI thread; real Engine, bridge and main window; reps {args.reps}"
    )
    rows: list[list[Any]] = []
    results: list[tuple[str, dict[str, Record]]] = []
    sd15_cache: dict[str, Any] = {}
    for config in parse_configs(args.configs):
        if config.model == "mini" and not builtin_model_present():
            config = Config("tiny", config.dtype)
            print("(studio-mini is not installed: using the tiny test model instead)")
        print(f"-- {config.model} {config.dtype}", flush=True)
        with model_for(config, sd15_cache) as found:
            if found is None:
                continue
            loaded, size = found
            steps = args.steps or (3 if config.model == "sd15" else 20)
            args_for = argparse.Namespace(**{**vars(args), "steps": steps})
            records = measure_model(app, config, loaded, size, args_for)
            rows += rows_for(config, size, records)
            results.append((f"{config.model} {config.dtype} ({steps} steps)", records))
    headers = [
        "model",
        "case",
        "largest gap",
        "p99 gap",
        f"gaps > {GOAL_MS:g} ms",
        "ticks",
        "job",
        "step",
        "goal",
    ]
    print()
    print_table(f"GUI stalls ({TICK_MS} ms timer; goal: largest gap ≤ {GOAL_MS:g} ms)", headers, rows)
    print("recommended engine torch threads:")
    print(recommend(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
