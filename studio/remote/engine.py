"""`RemoteEngine`: the local engine's contract (`studio.engine.engine.Engine`) on ComfyUI servers.

Same request in (`GenerationRequest`, checked once at submit), same typed events out
(`studio.core.events`: Queued -> Started(plan, warnings) -> Step... -> Finished | Cancelled |
Failed), same `JobHandle`. Jobs wait in Studio's own queue; each server has a worker thread
(`worker.ServerWorker`) that runs one job at a time, and an idle server takes the next job when it is
the least busy of the idle ones (its /queue length, then its free memory). A server lost mid-job:
the job goes on, at the front of the queue, on another server (Started again with a warning, as the
local engine does when it retries after running out of memory; batch images already received are
kept), or fails when no server is left. Events reach `publish` and the handle on one publisher
thread, in order, as in the local engine.

Results are composited through Studio's plan (`images`) and carry the same metadata as local ones
(`studio.core.metadata.build_parameters`; the model is the checkpoint's file stem; no model hash,
which the server does not give).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from studio.core.events import Cancelled, Event, Failed, FailureKind, JobHandle, Queued, deliver_queued_events
from studio.core.plan import plan
from studio.core.request import GenerationRequest, check_request
from studio.remote import workflow
from studio.remote.client import merged_checkpoints
from studio.remote.errors import ExecutionFailed, RemoteError
from studio.remote.run import RemoteJob
from studio.remote.servers import ServerConfig, ServerStatus
from studio.remote.worker import ServerWorker

log = logging.getLogger(__name__)

Publish = Callable[[Event], None]
SHUT_DOWN = "The remote engine has shut down; restart Studio to generate again."
_STOP = object()
# Unique in the process and far from the local engine's ids (both may run in one app)
_JOB_IDS = itertools.count(1_000_001)


class RemoteEngine:
    """Runs jobs on one or several ComfyUI servers; see the module docstring."""

    def __init__(
        self,
        publish: Publish,
        servers: Sequence[ServerConfig],
        *,
        connect_timeout: float = 5.0,
        silence_limit: float = 8.0,
    ) -> None:
        if not servers:
            raise ValueError("The remote engine needs at least one ComfyUI server.")
        self._publish = publish
        self._cond = threading.Condition()
        self._pending: deque[RemoteJob] = deque()
        self._stopping = False
        self._started = False
        self._events: queue.SimpleQueue[tuple[Event, JobHandle | None] | object] = queue.SimpleQueue()
        self._publisher = threading.Thread(
            target=self._publish_loop, name="studio-remote-events", daemon=True
        )
        self._workers = [
            ServerWorker(
                server,
                self,
                connect_timeout=connect_timeout,
                silence_limit=silence_limit,
                failure=self._failure,
            )
            for server in servers
        ]

    def __repr__(self) -> str:
        return f"<RemoteEngine {', '.join(w.server.name for w in self._workers)}>"

    # ------------------------------------------------------------------ public, any thread
    def start(self) -> None:
        with self._cond:
            if self._started:
                return
            self._started = True
        self._publisher.start()
        for worker in self._workers:
            worker.start()

    def submit(self, request: GenerationRequest) -> JobHandle:
        """Queue `request`; returns its handle. A request that cannot run (invalid, or using what
        a server cannot run) is rejected here: its handle is done with a Failed(kind=INPUT)."""
        job_id = next(_JOB_IDS)
        problem = None
        try:
            request = check_request(request)
            workflow.check_supported(request)
            the_plan = plan(request)
        except (ValueError, RemoteError) as exc:
            problem = str(exc)
        handle = JobHandle(job_id, request, self.cancel)
        with self._cond:
            if problem is None and self._stopping:
                problem = SHUT_DOWN
            if problem is None:
                self._pending.append(RemoteJob(handle, the_plan))
                self._emit(Queued(job_id, len(self._pending) - 1), handle)
                self._fail_if_no_server()
                self._wake_idle()
                return handle
        self._emit(handle.reject(problem or ""), None)
        return handle

    def cancel(self, job_id: int) -> bool:
        """A queued job is removed (Cancelled(at_step=0)); a running one is interrupted on its server
        (or deleted from the server's queue) and ends with Cancelled within about a step."""
        with self._cond:
            for worker in self._workers:
                if worker.current is not None and worker.current.id == job_id:
                    worker.current.cancel.set()
                    worker.wake()
                    return True
            jobs = list(self._pending)
            for index, job in enumerate(jobs):
                if job.id == job_id:
                    self._pending.remove(job)
                    self._emit(Cancelled(job_id, job.last_step), job.handle)
                    for position, later in enumerate(jobs[index + 1 :], start=index):
                        self._emit(Queued(later.id, position), later.handle)
                    return True
        return False

    def preload(self, ref: str) -> None:
        """Nothing to do: a server loads its checkpoint when a job needs it."""

    @property
    def busy(self) -> bool:
        with self._cond:
            return bool(self._pending) or any(w.current is not None for w in self._workers)

    def parallel_jobs(self) -> int:
        """How many jobs run at once: one per server not known to be down (at least one)."""
        return max(1, sum(1 for w in self._workers if w.reachable or not w.tried))

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Cancel everything (running prompts are interrupted), stop the threads."""
        with self._cond:
            self._stopping = True
            for worker in self._workers:
                if worker.current is not None:
                    worker.current.cancel.set()
                    worker.wake()
            for job in self._pending:
                self._emit(Cancelled(job.id, job.last_step), job.handle)
            self._pending.clear()
        deadline = time.monotonic() + timeout
        self._wait_running(deadline)
        for worker in self._workers:
            worker.stop()
        ended = all(w.join(max(0.0, deadline - time.monotonic())) for w in self._workers)
        self._events.put(_STOP)
        if self._publisher.is_alive():
            self._publisher.join(max(0.0, deadline - time.monotonic()))
        return ended and not self._publisher.is_alive()

    def models(self) -> list[str]:
        """Checkpoint names the servers list, each once (blocking HTTP: call off the GUI thread)."""
        return merged_checkpoints(worker.client for worker in self._workers)[0]

    def server_status(self) -> list[ServerStatus]:
        return [worker.status() for worker in self._workers]

    # ------------------------------------------------------------------ for the workers
    def take(self, worker: ServerWorker) -> RemoteJob | None:
        """The next job for `worker` if it is the least busy idle server, else None."""
        with self._cond:
            if self._stopping or not self._pending or not worker.idle:
                return None
            idle = [w for w in self._workers if w.idle]
            best = min(idle, key=lambda w: (w.queue_length, -w.free_vram, self._workers.index(w)))
            if best is not worker:
                return None
            job = self._pending.popleft()
            worker.current = job
            for position, later in enumerate(self._pending):
                self._emit(Queued(later.id, position), later.handle)
            return job

    def emit(self, event: Event, handle: JobHandle) -> None:
        self._emit(event, handle)

    def finish(self, job: RemoteJob, outcome: Event, worker: ServerWorker) -> None:
        with self._cond:
            worker.current = None  # `busy` is already False when the terminal event arrives
            self._emit(outcome, job.handle)
            self._wake_idle()

    def lost(self, job: RemoteJob, worker: ServerWorker, reason: str) -> None:
        """`worker`'s server was lost running `job`: run what is missing elsewhere, or fail it."""
        with self._cond:
            worker.current = None
            others = [w for w in self._workers if w is not worker and w.reachable]
            if job.cancel.is_set() or self._stopping:
                self._emit(Cancelled(job.id, job.last_step), job.handle)
            elif others:
                log.warning("Job %d: %s; running it on another server", job.id, reason)
                job.warnings = (f"{reason} The job was sent to another server and started again.",)
                self._pending.appendleft(job)
            else:
                message = f"{reason} No other ComfyUI server is reachable, so the job stopped."
                self._emit(Failed(job.id, FailureKind.INTERNAL, message), job.handle)
            self._wake_idle()

    def server_down(self, worker: ServerWorker) -> None:
        with self._cond:
            self._fail_if_no_server()

    # ------------------------------------------------------------------ internals
    def _fail_if_no_server(self) -> None:
        """Fail the waiting jobs when every server has been tried and none is reachable (the caller
        holds the lock)."""
        if not all(w.tried and not w.reachable for w in self._workers):
            return
        reasons = "; ".join(w.last_error for w in self._workers if w.last_error)
        for job in self._pending:
            message = f"No ComfyUI server can be reached: {reasons}"
            self._emit(Failed(job.id, FailureKind.INTERNAL, message), job.handle)
        self._pending.clear()

    def _wake_idle(self) -> None:
        """Have the idle servers look at the queue now (the caller holds the lock)."""
        for worker in self._workers:
            if worker.idle:
                worker.wake()

    def _failure(self, job: RemoteJob, exc: BaseException) -> Failed:
        if isinstance(exc, RemoteError):
            detail = exc.detail if isinstance(exc, ExecutionFailed) else ""
            log.warning("Job %d failed: %s", job.id, exc)
            return Failed(job.id, exc.kind, str(exc), detail)
        if isinstance(exc, ValueError):
            return Failed(job.id, FailureKind.INPUT, str(exc))
        log.error("Job %d failed", job.id, exc_info=exc)
        return Failed(job.id, FailureKind.INTERNAL, f"The remote job failed unexpectedly: {exc}", repr(exc))

    def _wait_running(self, deadline: float) -> None:
        """Give running jobs until `deadline` to end (their servers were asked to stop them)."""
        while time.monotonic() < deadline and any(w.current is not None for w in self._workers):
            time.sleep(0.05)

    def _emit(self, event: Event, handle: JobHandle | None) -> None:
        self._events.put((event, handle))

    def _publish_loop(self) -> None:
        deliver_queued_events(self._events, self._publish)
