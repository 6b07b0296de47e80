"""The engine: one long-lived worker thread owns the model and makes every torch call.

Callers (the Qt bridge, the CLI, benchmarks) talk to it through thread-safe methods:
``submit(request) -> JobHandle`` (``studio.core.events``: the job's id, ``cancel()``, its events via
``subscribe``), ``preload(ref)``, ``shutdown(timeout)``. Commands reach the worker through a queue;
results come back as events (``studio.core.events``), each passed first to ``publish`` (every event
of the engine) and then to its job's handle. Events are delivered, in order, by a small publisher
thread owned by the engine, so a slow subscriber never stalls denoising and ``publish`` is never
called on the caller's thread.

A request is checked once, in ``submit`` (``studio.core.request.check_request``); the worker plans it
(``studio.core.plan.plan``), reports the plan in ``Started`` and runs it (``pipelines.generate``).

Importing this module does not import torch: the worker imports it when it first needs it.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.events import (
    Cancelled,
    Event,
    Failed,
    FailureKind,
    Finished,
    JobHandle,
    Loading,
    ModelReady,
    Queued,
    Started,
    Step,
    deliver_queued_events,
)
from studio.core.plan import GenerationPlan, plan
from studio.core.request import GenerationRequest, PreviewKind, check_request
from studio.engine.failures import failure_for
from studio.engine.prompt_tokens import checked_prompt_warnings

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from studio.engine.latent_rgb import LatentRGB
    from studio.engine.loading import LoadedModel
    from studio.engine.models import Loader, ModelManager
    from studio.engine.runner import CallContext

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]
PRELOAD_JOB = 0  # job_id of events caused by preload()
SHUT_DOWN = "The engine has shut down; restart Studio to generate again."
_STOP = object()
# Job ids are unique in the process, not per Engine: the app replaces its Engine when device or
# precision change, and a restarted count would make the bridge take new jobs for finished ones.
_JOB_IDS = itertools.count(1)


@dataclass
class _Job:
    handle: JobHandle
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def id(self) -> int:
        return self.handle.id

    @property
    def request(self) -> GenerationRequest:
        return self.handle.request


@dataclass
class _Preload:
    ref: str


class Engine:
    """Runs generation jobs one at a time on its own thread; see the module docstring."""

    def __init__(
        self,
        publish: Publish,
        *,
        device: str = "auto",
        precision: str = "auto",
        torch_threads: int | None = None,
        loader: Loader | None = None,
        cache_dir: Path | None = None,
        memory_mode: str = "auto",
    ) -> None:
        self._publish = publish
        self._device_pref = device
        self._precision = precision
        self._memory_mode = memory_mode  # GPU memory mode setting (`studio.engine.memory`)
        self._torch_threads = torch_threads
        self._loader = loader  # injectable for tests; default studio.engine.loading.load_pipeline
        self._cache_dir = cache_dir
        self._cond = threading.Condition()
        self._pending: deque[_Job | _Preload] = deque()
        self._current: _Job | None = None
        self._stopping = False
        self._events: queue.SimpleQueue[tuple[Event, JobHandle | None] | object] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._models: ModelManager | None = None  # created on the worker thread

    # ------------------------------------------------------------------ public, any thread
    def start(self) -> None:
        if self._worker is not None:
            return
        self._publisher = threading.Thread(
            target=self._publish_loop, name="studio-engine-events", daemon=True
        )
        self._worker = threading.Thread(target=self._work_loop, name="studio-engine", daemon=True)
        self._publisher.start()
        self._worker.start()

    def submit(self, request: GenerationRequest) -> JobHandle:
        """Queue ``request``; returns its handle. The request is checked here, once: one that cannot
        run is not queued, its handle is already done (``rejection``: a ``Failed(kind=INPUT)``, also
        published)."""
        job_id = next(_JOB_IDS)
        try:
            request, problem = check_request(request), None
        except ValueError as exc:
            problem = str(exc)
        handle = JobHandle(job_id, request, self.cancel)
        with self._cond:
            if problem is None and self._stopping:
                problem = SHUT_DOWN
            if problem is None:
                position = sum(isinstance(c, _Job) for c in self._pending)
                self._pending.append(_Job(handle))
                self._emit(Queued(job_id, position), handle)
                self._cond.notify_all()
                return handle
        self._emit(handle.reject(problem), None)  # the handle has it already; tell `publish`
        return handle

    def cancel(self, job_id: int) -> bool:
        """Cancel a queued job (removed, ``Cancelled(at_step=0)``, later jobs get new ``Queued``
        positions) or the running one (stops within a step, no VAE decode). False if unknown."""
        with self._cond:
            if self._current is not None and self._current.id == job_id:
                self._current.cancel.set()
                return True
            jobs = [c for c in self._pending if isinstance(c, _Job)]
            for index, cmd in enumerate(jobs):
                if cmd.id == job_id:
                    self._pending.remove(cmd)
                    self._emit(Cancelled(job_id, 0), cmd.handle)
                    for position, later in enumerate(jobs[index + 1 :], start=index):
                        self._emit(Queued(later.id, position), later.handle)  # the jobs behind move up
                    return True
        return False

    def preload(self, ref: str) -> None:
        """Load ``ref`` ahead of the next job (events carry job_id 0)."""
        with self._cond:
            if not self._stopping:
                self._pending.append(_Preload(ref))
                self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._current is not None or any(isinstance(c, _Job) for c in self._pending)

    def parallel_jobs(self) -> int:
        """How many jobs run at once: one (one model on one device)."""
        return 1

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything, stop the threads and free the model. True if the threads ended in time."""
        with self._cond:
            self._stopping = True
            if self._current is not None:
                self._current.cancel.set()
            for cmd in list(self._pending):
                if isinstance(cmd, _Job):
                    self._emit(Cancelled(cmd.id, 0), cmd.handle)
            self._pending.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        if self._worker is not None:
            self._worker.join(max(0.0, deadline - time.monotonic()))
        self._events.put(_STOP)
        if self._publisher is not None:
            self._publisher.join(max(0.0, deadline - time.monotonic()))
        return not any(t is not None and t.is_alive() for t in (self._worker, self._publisher))

    # ------------------------------------------------------------------ threads
    def _emit(self, event: Event, handle: JobHandle | None) -> None:
        """Queue ``event`` for ``publish`` and for its job's handle (None: preloads, rejections)."""
        self._events.put((event, handle))

    def _publish_loop(self) -> None:
        deliver_queued_events(self._events, self._publish)

    def _work_loop(self) -> None:
        from studio.engine.device import lower_thread_priority

        lower_thread_priority()  # before torch starts its OpenMP workers from this thread
        while True:
            cmd = self._take()
            if cmd is None:
                break
            if isinstance(cmd, _Preload):
                self._run_preload(cmd.ref)
            else:
                self._run_job(cmd)
        self._release_model()

    def _take(self) -> _Job | _Preload | None:
        with self._cond:
            self._current = None
            while not self._pending and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            cmd = self._pending.popleft()
            if isinstance(cmd, _Job):
                self._current = cmd
            return cmd

    # ------------------------------------------------------------------ worker-thread only
    def _manager(self) -> ModelManager:
        if self._models is None:
            # Idle OpenMP threads must sleep, not spin: spinning threads fight the GUI thread for
            # the cores (docs/BENCHMARKS.md). Read once when torch loads its OpenMP runtime.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import torch

            from studio.engine.device import (
                auto_cpu_bf16,
                auto_gpu_bf16_for_dit,
                choose_device,
                choose_dtype,
                default_torch_threads,
            )
            from studio.engine.models import ModelManager

            torch.set_num_threads(int(self._torch_threads or default_torch_threads()))
            device = choose_device(self._device_pref)
            dtype = choose_dtype(device, self._precision)
            self._models = ModelManager(
                device,
                dtype,
                loader=self._loader,
                cache_dir=self._latent_cache(),
                bf16_when_faster=auto_cpu_bf16(device, self._precision),
                memory_mode=self._memory_mode,
                dit_bf16=auto_gpu_bf16_for_dit(device, self._precision),
            )
            log.info("Engine on %s, %s, %d torch threads", device, dtype, torch.get_num_threads())
        return self._models

    def _latent_cache(self) -> Path | None:
        if self._cache_dir is not None:
            return self._cache_dir
        try:
            from studio.core.paths import user_dirs

            return user_dirs().data / "cache" / "latent_rgb"
        except Exception:  # platformdirs problems must not stop generation
            log.warning("No cache folder for preview colours", exc_info=True)
            return None

    def _ensure_model(self, ref: str, job_id: int, handle: JobHandle | None) -> LoadedModel:
        """The resident ``LoadedModel`` for ``ref`` (loading it, with Loading/ModelReady events)."""
        models = self._manager()
        if models.resident_ref == ref and models.loaded is not None:
            return models.loaded
        label = ref or "built-in model"
        self._emit(Loading(job_id, label, f"Loading {label}"), handle)

        def progress(message: str) -> None:
            self._emit(Loading(job_id, label, message), handle)

        from studio.engine.memory import uses_memory_modes

        loaded, seconds = models.ensure(ref, progress)
        if self._torch_threads is None:  # the default: by the model's size (device.threads_for_model)
            import torch

            from studio.engine.device import threads_for_model
            from studio.engine.dit import denoiser

            params = sum(p.numel() for p in denoiser(loaded.pipe).parameters())
            torch.set_num_threads(threads_for_model(params))
        side = models.native_size()
        mode = models.memory_mode.value if uses_memory_modes(models.device) else ""
        ready = ModelReady(job_id, loaded.name, models.device, str(models.dtype), seconds, side, ref, mode)
        self._emit(ready, handle)
        return loaded

    def _run_preload(self, ref: str) -> None:
        outcome: Failed | None = None
        try:
            self._ensure_model(ref, PRELOAD_JOB, None)
        except Exception as exc:
            outcome = self._failure(PRELOAD_JOB, exc, "loading the model")
        if outcome is not None:
            self._finish(outcome, None)

    def _run_job(self, job: _Job) -> None:
        if job.request.uses_upscale and not job.request.upscale.refine:
            self._run_upscale_only(job)  # no diffusion model needed
            return
        from studio.engine.job_files import job_files
        from studio.engine.pipelines import RequestError
        from studio.engine.runner import JobCancelled

        doing = "loading the model"
        try:
            if job.cancel.is_set():
                raise JobCancelled(0)
            try:
                the_plan = plan(job.request)  # before loading: a request that cannot run fails fast
            except ValueError as exc:
                raise RequestError(str(exc)) from exc
            loaded = self._ensure_model(job.request.model, job.id, job.handle)
            doing = "generating"
            if job.cancel.is_set():
                raise JobCancelled(0)
            ctx = self._context(job, the_plan)
            self._prepare_memory(job.request, the_plan)
            with job_files(job.request, self._manager()) as files:  # LoRAs, VAE: on for this job only
                self._manager().refresh_vae_memory()  # a swapped-in VAE tiles like the mode wants
                warnings = checked_prompt_warnings(loaded.pipe, job.request, job.id)
                self._emit(Started(job.id, the_plan, warnings), job.handle)
                images = self._generate(job, the_plan, ctx)
            elapsed = time.monotonic() - ctx.started
            params = files.parameters(job.request, loaded, images, ctx.embedding_hashes, ctx.control_hashes)
            outcome: Event = Finished(job.id, images, job.request.seeds(), job.request, elapsed, params)
        except JobCancelled as exc:
            outcome = Cancelled(job.id, exc.at_step)
        except Exception as exc:
            outcome = self._failure(job.id, exc, doing)
        # Outside the except block: the traceback (whose frames hold the pipeline and its tensors)
        # is gone, so unloading after an out-of-memory error really frees the memory.
        with self._cond:
            self._current = None  # `busy` is already False when the terminal event arrives
        self._finish(outcome, job.handle)

    def _run_upscale_only(self, job: _Job) -> None:
        """ "Upscale…" without refine: the upscaler alone, the resident model left as it is."""
        from studio.engine.runner import JobCancelled
        from studio.engine.upscale_job import run_upscale, upscale_parameters

        try:
            the_plan = plan(job.request)
            ctx = self._context(job, the_plan)
            self._emit(Started(job.id, the_plan, ()), job.handle)
            images = run_upscale(job.request, the_plan, ctx, self._manager().device)
            elapsed = time.monotonic() - ctx.started
            params = [upscale_parameters(job.request, image.size) for image in images]
            outcome: Event = Finished(job.id, images, job.request.seeds(), job.request, elapsed, params)
        except JobCancelled as exc:
            outcome = Cancelled(job.id, exc.at_step)
        except Exception as exc:
            outcome = self._failure(job.id, exc, "upscaling")
        with self._cond:
            self._current = None
        self._finish(outcome, job.handle)

    def _prepare_memory(self, request: GenerationRequest, the_plan: GenerationPlan) -> None:
        """The GPU memory mode for this job (CUDA only; `ModelManager.prepare_memory`): not sequential
        offload for LoRAs or an IP-Adapter, which need the weights in the model."""
        from studio.core.control import ControlKind
        from studio.engine.lora import requested_loras

        ip_adapter = any(unit.kind is ControlKind.IP_ADAPTER for unit in request.controls)
        sequential_ok = not requested_loras(request) and not ip_adapter
        self._manager().prepare_memory(the_plan.generation_size, the_plan.batch, sequential_ok=sequential_ok)

    def _generate(self, job: _Job, the_plan: GenerationPlan, ctx: CallContext) -> list[Image.Image]:
        """Run the plan; a CUDA out-of-memory error moves the model to the next lower-memory mode
        and runs it once more (``Started`` again, with a warning saying so; steps restart from 1).
        A second one fails the job as usual."""
        from studio.engine.memory import fallback_message, is_gpu_out_of_memory
        from studio.engine.pipelines import generate

        models = self._manager()
        try:
            return generate(job.request, the_plan, models, ctx)
        except Exception as exc:
            if not (is_gpu_out_of_memory(exc) and models.can_lower_memory):
                raise
        # out of the except block: the traceback (whose frames hold the tensors) is gone
        mode = models.lower_memory_mode()
        assert mode is not None
        log.warning("Job %d ran out of GPU memory; running it again in %s mode", job.id, mode.value)
        self._emit(Started(job.id, the_plan, (fallback_message(mode),)), job.handle)
        ctx.last_step = 0
        models.refresh_vae_memory()
        return generate(job.request, the_plan, models, ctx)

    def _finish(self, outcome: Event, handle: JobHandle | None) -> None:
        if isinstance(outcome, Failed) and outcome.kind is FailureKind.OUT_OF_MEMORY:
            self._release_model()
        self._emit(outcome, handle)

    def _context(self, job: _Job, the_plan: GenerationPlan) -> CallContext:
        from studio.engine.runner import CallContext

        request = job.request
        kind = request.preview
        rgb = self._latent_rgb() if kind is not PreviewKind.NONE else None
        started = time.monotonic()

        def on_step(step: int, total: int, previews: list[np.ndarray], preview_kind: PreviewKind) -> None:
            first = previews[0] if previews else None
            elapsed = time.monotonic() - started
            event = Step(job.id, step, total, elapsed, first, preview_kind, tuple(previews))
            self._emit(event, job.handle)

        return CallContext(
            job.cancel,
            on_step,
            total_steps=the_plan.total_steps,
            preview_kind=kind,
            preview_interval=request.preview_interval,
            latent_rgb=rgb,
            started=started,
            current_kind=lambda: job.handle.preview_kind,  # the live toggle (JobHandle.set_preview_kind)
        )

    def _latent_rgb(self) -> LatentRGB | None:
        try:
            return self._manager().latent_rgb()
        except Exception:
            log.warning("Previews are off: no latent colour map for this model", exc_info=True)
            return None

    def _failure(self, job_id: int, exc: BaseException, doing: str = "generating") -> Failed:
        kind, message, detail = failure_for(exc, doing)
        log.log(
            logging.ERROR if kind is FailureKind.INTERNAL else logging.WARNING,
            "Job %d failed: %s",
            job_id,
            message,
            exc_info=exc,
        )
        return Failed(job_id, kind, message, detail)

    def _release_model(self) -> None:
        if self._models is None:
            return
        try:
            self._models.unload()
        except Exception:
            log.exception("Unloading the model failed")
