"""Running the same request through the app's Engine and as one plain diffusers call.

The Engine gets the benchmark's already-loaded pipeline through its ``loader`` hook, so the engine
and the plain call use the very same weights in memory (no second copy, no layout differences).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import CACHE_DIR, NEGATIVE, PROMPT, WorkerThread, builtin_model_present, torch_dtype

JOB_TIMEOUT = 900.0  # seconds; an fp32 SD1.5 job at 512x512 takes ~30 s here


@dataclass
class JobResult:
    seconds: float  # submit -> terminal event received
    engine_elapsed: float  # the engine's own Finished.elapsed
    step_times: list[float] = field(default_factory=list)  # perf_counter at each Step event
    previews: int = 0


def loaded_model(pipe: Any, ref: str, name: str, family: str = "sd1", folder: Path | None = None) -> Any:
    """Wrap an in-memory pipeline as the ``LoadedModel`` the engine's loader returns."""
    from studio.engine.loading import LoadedModel

    return LoadedModel(
        pipe=pipe, ref=ref, name=name, family=family, inpaint=False, model_hash="", folder=folder
    )


def make_request(
    ref: str, size: int, steps: int, *, preview: bool, seed: int = 1234, guidance: float = 7.0
) -> Any:
    from studio.core.request import GenerationRequest, PreviewKind
    from studio.core.schedulers import DEFAULT_SCHEDULER

    return GenerationRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        model=ref,
        steps=steps,
        guidance=guidance,
        scheduler=DEFAULT_SCHEDULER,
        seed=seed,
        width=size,
        height=size,
        preview=PreviewKind.X0 if preview else PreviewKind.NONE,
        preview_interval=1,
    )


class EngineHarness:
    """An Engine (own worker thread, real event publishing) serving one injected model."""

    def __init__(self, loaded: Any, *, precision: str, threads: int, device: str = "cpu") -> None:
        from studio.engine.engine import Engine

        self.loaded = loaded
        self._events: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()  # preload events
        self.engine = Engine(
            self._publish,
            device=device,
            precision=precision,
            torch_threads=threads,
            loader=self._load,
            cache_dir=CACHE_DIR / "latent_rgb",
        )
        self.engine.start()

    def _load(self, ref: str, **_kw: Any) -> Any:
        return self.loaded

    def _publish(self, event: Any) -> None:
        if event.job_id == 0:  # preload events; a job's events come through its handle (run)
            self._events.put((time.perf_counter(), event))

    def preload(self) -> None:
        from studio.core.events import Failed, ModelReady

        self.engine.preload(self.loaded.ref)
        while True:
            _t, event = self._events.get(timeout=JOB_TIMEOUT)
            if isinstance(event, Failed):
                raise RuntimeError(f"engine preload failed: {event.message}\n{event.detail}")
            if isinstance(event, ModelReady):
                return

    def run(self, request: Any) -> JobResult:
        from studio.core.events import TERMINAL_EVENTS, Failed, Finished, Step

        events: queue.SimpleQueue[tuple[float, Any]] = queue.SimpleQueue()
        t0 = time.perf_counter()
        job = self.engine.submit(request)
        job.subscribe(lambda event: events.put((time.perf_counter(), event)))  # this job's events only
        result = JobResult(0.0, 0.0)
        while True:
            t, event = events.get(timeout=JOB_TIMEOUT)
            if isinstance(event, Step):
                result.step_times.append(t)
                result.previews += event.preview is not None
            if isinstance(event, TERMINAL_EVENTS):
                break
        if isinstance(event, Failed):
            raise RuntimeError(f"engine job failed: {event.message}\n{event.detail}")
        assert isinstance(event, Finished), event
        result.seconds = t - t0
        result.engine_elapsed = event.elapsed
        return result

    def close(self) -> None:
        self.engine.shutdown(timeout=60)


class PlainRunner:
    """The same request as one plain diffusers call, no callback, on a thread set up like the engine's."""

    def __init__(self, pipe: Any, *, threads: int) -> None:
        from studio.engine.schedulers import create_scheduler

        self.pipe = type(pipe).from_pipe(pipe)  # shares weights; own scheduler below
        self.pipe.set_progress_bar_config(disable=True)
        self._base_config = dict(pipe.scheduler.config)
        self._create_scheduler = create_scheduler
        self.worker = WorkerThread(threads, name="bench-plain")

    def run(self, request: Any) -> float:
        self.pipe.scheduler = self._create_scheduler(request.scheduler, self._base_config)
        t0 = time.perf_counter()
        self.worker.call(lambda: self._call(request))
        return time.perf_counter() - t0

    def _call(self, request: Any) -> Any:
        import torch

        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        return self.pipe(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            width=request.width,
            height=request.height,
            generator=generator,
        ).images

    def close(self) -> None:
        self.worker.close()


@dataclass
class Config:
    model: str  # "tiny" | "mini" | "sd15"
    dtype: str  # "fp32" | "bf16"


def parse_configs(text: str) -> list[Config]:
    configs = []
    for item in text.split(","):
        model, _, dtype = item.strip().partition(":")
        configs.append(Config(model, dtype or "fp32"))
    return configs


@contextmanager
def model_for(config: Config, sd15_cache: dict[str, Any]) -> Iterator[tuple[Any, int] | None]:
    """(LoadedModel, image side) for a config, or None when that model is not available."""
    dtype = torch_dtype(config.dtype)
    if config.model == "tiny":
        from _common import tiny_pipeline

        yield loaded_model(tiny_pipeline().to(dtype=dtype), "bench-tiny", "tiny test model"), 64
    elif config.model == "mini":
        if not builtin_model_present():
            print("(studio-mini is not installed: skipped)")
            yield None
            return
        from studio.engine.loading import load_pipeline

        loaded = load_pipeline("", device="cpu", dtype=dtype)
        pipe = loaded.pipe
        yield loaded, int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    elif config.model == "sd15":
        from _models import sd15_pipeline

        if "pipe" not in sd15_cache:
            sd15_cache["pipe"] = sd15_pipeline(dtype)
        pipe = sd15_cache["pipe"].to(dtype=dtype)  # converted in place between configs
        yield loaded_model(pipe, f"bench-sd15-{config.dtype}", "SD1.5 architecture (random)"), 512
    else:
        raise SystemExit(f"unknown model {config.model!r} (tiny, mini, sd15)")
