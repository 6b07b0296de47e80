"""One job on one server: check, upload, queue the workflow, follow the WebSocket, fetch results.

Events of one run: Loading ("Sending the job to <server>", naming the server) -> Started(plan,
warnings) -> Step... (the batch's steps: with one sampler per batch image, step k of n is reached
when the whole batch has done k/n of its sampling; previews are the server's binary preview frames,
x0 previews as ComfyUI's latent2rgb makes them) -> the outcome, which the engine publishes.

`RemoteJob` is a job's state across servers (its handle, cancel flag, plan, the images received so
far); `run_job` runs it on a connected server and returns its outcome, or raises `ServerUnreachable`
/ `ServerGone` when the server is lost, so the engine can run what is still missing elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from studio.core.events import Cancelled, Event, FailureKind, Finished, JobHandle, Loading, Started, Step
from studio.core.metadata import build_parameters
from studio.core.plan import GenerationPlan
from studio.core.request import GenerationRequest, PreviewKind
from studio.remote import images, workflow
from studio.remote.client import ComfyClient, Message, Preview
from studio.remote.errors import BadReply, ExecutionFailed, Interrupted, RemoteError
from studio.remote.samplers import check_offered
from studio.remote.workflow import Workflow

log = logging.getLogger(__name__)

Emit = Callable[[Event, JobHandle], None]


class Receiver(Protocol):
    """A server's WebSocket messages (`worker.Inbox`): the next one, or None after a short wait."""

    def receive(self) -> Message | Preview | None: ...


LOST_PROMPT_CHECK = 5.0  # seconds between checks that a queued prompt is still on the server
PREVIEW_WAIT = 1.0  # seconds a step waits for its preview frame before it goes out without one


@dataclass
class RemoteJob:
    handle: JobHandle
    plan: GenerationPlan
    cancel: threading.Event = field(default_factory=threading.Event)
    results: dict[int, Image.Image] = field(default_factory=dict)  # batch index -> result
    warnings: tuple[str, ...] = ()  # for the next Started (a resubmission says why)
    started: float = 0.0  # monotonic time of the first Started
    checkpoint: str = ""
    last_step: int = 0

    @property
    def id(self) -> int:
        return self.handle.id

    @property
    def request(self) -> GenerationRequest:
        return self.handle.request

    def missing(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.request.batch) if i not in self.results)


def run_job(job: RemoteJob, client: ComfyClient, sock: Receiver, emit: Emit) -> Event:
    """Run `job` on `client`'s server; Finished / Cancelled, or raises `RemoteError`."""
    request = job.request
    if job.checkpoint and not job.missing():  # every image arrived before its server was lost
        return _finished(job)
    # a job moved from a lost server goes on with the checkpoint its first images came from
    checkpoint = _checkpoint(client, job.checkpoint or request.model)
    sampler, scheduler = workflow.check_supported(request)
    check_offered(
        request.scheduler,
        sampler,
        scheduler,
        client.choices("KSamplerAdvanced", "sampler_name"),
        client.choices("KSamplerAdvanced", "scheduler"),
    )
    if job.cancel.is_set():
        return Cancelled(job.id, job.last_step)
    emit(
        Loading(job.id, checkpoint, f"Sending the job to the ComfyUI server {client.server.name}…"),
        job.handle,
    )
    upload = _upload(client, images.inputs(request, job.plan))
    flow = workflow.build(request, job.plan, checkpoint=checkpoint, upload=upload, indices=job.missing())
    job.checkpoint = checkpoint
    if not job.started:
        job.started = time.monotonic()
    emit(Started(job.id, job.plan, job.warnings), job.handle)
    job.last_step = 0
    prompt_id = uuid.uuid4().hex
    client.queue_prompt(flow.graph, prompt_id)
    log.info("Job %d is prompt %s on %s", job.id, prompt_id, client.server.name)
    outcome = _Follow(job, client, sock, flow, prompt_id, emit).run()
    if outcome is not None:
        return outcome
    return _finished(job)


def _checkpoint(client: ComfyClient, wanted: str) -> str:
    names = client.known_checkpoints()
    if not names or (wanted and wanted not in names):  # added since, or really missing: ask again
        names = client.checkpoints()
    if not names:
        raise RemoteError(
            f"The ComfyUI server {client.server.name} lists no checkpoints: add one to its models folder."
        )
    if not wanted:
        return names[0]
    if wanted not in names:
        error = RemoteError(
            f"The ComfyUI server {client.server.name} has no checkpoint {wanted!r}; it lists: "
            f"{', '.join(names[:10])}{' ...' if len(names) > 10 else ''}."
        )
        error.kind = FailureKind.MODEL
        raise error
    return wanted


def _upload(client: ComfyClient, inputs: images.Inputs) -> str:
    if inputs.image is None:
        return ""
    ref = client.upload_image(inputs.image)
    if inputs.mask is not None:
        ref = client.upload_mask(inputs.mask, ref)
    return ref.filename if not ref.subfolder else f"{ref.subfolder}/{ref.filename}"


def _finished(job: RemoteJob) -> Finished:
    request = job.request
    ordered = [job.results[i] for i in range(request.batch)]
    model = workflow.model_label(job.checkpoint)
    params = [
        build_parameters(request, seed, model, "", image.size)
        for seed, image in zip(request.seeds(), ordered, strict=False)
    ]
    return Finished(job.id, ordered, request.seeds(), request, time.monotonic() - job.started, params)


class _Follow:
    """Follows one queued prompt on the WebSocket until it ends."""

    def __init__(
        self, job: RemoteJob, client: ComfyClient, sock: Receiver, flow: Workflow, prompt_id: str, emit: Emit
    ) -> None:
        self.job, self.client, self.sock, self.flow = job, client, sock, flow
        self.prompt_id, self.emit = prompt_id, emit
        self.running = False  # our prompt is the one executing (previews are ours)
        self.done_chains: set[int] = set()
        self.pending_step: tuple[int, float] | None = None  # a step waiting for its preview frame
        self.cancel_sent = False
        self.last_check = time.monotonic()

    def run(self) -> Event | None:
        """None when the prompt finished (results in job.results), else Cancelled."""
        while True:
            if self.job.cancel.is_set() and not self.cancel_sent and self._send_cancel():
                return Cancelled(self.job.id, 0)
            item = self.sock.receive()
            if isinstance(item, Preview):
                self._on_preview(item)
                continue
            if item is None:
                self._flush_overdue_step()
                if self._check_still_there():
                    return None
                continue
            self._flush_step()
            end = self._on_message(item)
            if end is not None:
                return end if isinstance(end, Event) else None

    # ---- messages -----------------------------------------------------------------------------
    def _on_message(self, msg: Message) -> Event | bool | None:
        data = msg.data
        if data.get("prompt_id") != self.prompt_id:
            return None
        if msg.type in ("execution_start", "execution_cached"):
            self.running = True
        elif msg.type == "progress":
            self._on_progress(data)
        elif msg.type == "executed":
            self._on_executed(data)
            return not self.job.missing() or None  # the last image is in: done
        elif msg.type == "execution_success" or (msg.type == "executing" and data.get("node") is None):
            return self._collect()
        elif msg.type == "execution_error":
            raise _execution_error(data, self.client.server.name)
        elif msg.type == "execution_interrupted":
            if self.job.cancel.is_set():
                return Cancelled(self.job.id, self.job.last_step)
            raise Interrupted(f"The job was interrupted on the ComfyUI server {self.client.server.name}.")
        return None

    def _on_progress(self, data: dict[str, object]) -> None:
        chain = self.flow.chain_of(str(data.get("node")))
        value = data.get("value")
        if chain is None or not isinstance(value, int) or isinstance(value, bool):
            return
        if self.cancel_sent and not self.running:  # cancelled as it left the queue: stop it now
            self.client.interrupt(self.prompt_id)
        self.running = True
        total = self.job.plan.total_steps
        done = len(self.done_chains - {chain.index})
        overall = done * total + min(max(value, 0), total)
        chains = len(self.flow.chains)
        step = min(total, -(-overall // chains))  # steps of the whole batch, 1..total
        if step > self.job.last_step:
            self.job.last_step = step
            self._flush_step()
            self.pending_step = (step, time.monotonic() - self.job.started)
            if not self._wants_preview(step):
                self._flush_step()
        if value >= total:
            self.done_chains.add(chain.index)

    def _wants_preview(self, step: int) -> bool:
        request = self.job.request
        kind = self.job.handle.preview_kind
        return kind is not PreviewKind.NONE and (
            step % request.preview_interval == 0 or step == self.job.plan.total_steps
        )

    def _on_preview(self, preview: Preview) -> None:
        if self.pending_step is None or not self.running:
            return
        step, elapsed = self.pending_step
        self.pending_step = None
        width, height = self.job.plan.generation_size
        try:  # decoded no smaller than the latents, the size of the local engine's previews
            array = np.asarray(preview.image((width // 8, height // 8)), dtype=np.uint8)
        except BadReply as exc:  # a bad preview costs the preview, not the job
            log.warning("Job %d: a preview could not be used: %s", self.job.id, exc)
            self.emit(Step(self.job.id, step, self.job.plan.total_steps, elapsed), self.job.handle)
            return
        total = self.job.plan.total_steps
        self.emit(Step(self.job.id, step, total, elapsed, array, PreviewKind.X0, (array,)), self.job.handle)

    def _flush_overdue_step(self) -> None:
        """Nothing came: the pending step goes out without its preview only once the frame is long
        overdue (a server without previews). A loaded server sends a step's frame well after the
        progress message; flushing on every empty read dropped those frames."""
        if self.pending_step is not None:
            waited = time.monotonic() - self.job.started - self.pending_step[1]
            if waited > PREVIEW_WAIT:
                self._flush_step()

    def _flush_step(self) -> None:
        if self.pending_step is not None:
            step, elapsed = self.pending_step
            self.pending_step = None
            self.emit(Step(self.job.id, step, self.job.plan.total_steps, elapsed), self.job.handle)

    def _on_executed(self, data: dict[str, object]) -> None:
        from studio.remote.validate import file_ref

        chain = self.flow.chain_of(str(data.get("node")))
        output = data.get("output")
        if chain is None or chain.output != data.get("node") or not isinstance(output, dict):
            return
        files = output.get("images")
        if isinstance(files, list) and files:
            self._keep(chain.index, self.client.view(file_ref(files[0], "the WebSocket")))

    def _collect(self) -> bool:
        """The prompt ended: fetch from /history whatever did not arrive on the WebSocket."""
        self._flush_step()
        missing = [c for c in self.flow.chains if c.index not in self.job.results]
        if missing:
            outputs = self.client.history_outputs(self.prompt_id)
            for chain in missing:
                files = outputs.get(chain.output)
                if not files:
                    raise ExecutionFailed(
                        f"The ComfyUI server {self.client.server.name} finished the job without image "
                        f"{chain.index + 1} of the batch."
                    )
                self._keep(chain.index, self.client.view(files[0]))
        return True

    def _keep(self, index: int, generated: Image.Image) -> None:
        size = self.job.plan.generation_size
        if generated.size != size:
            raise ExecutionFailed(
                f"The ComfyUI server {self.client.server.name} sent a {generated.width}x{generated.height} "
                f"image for a {size[0]}x{size[1]} job."
            )
        self.job.results[index] = images.composite(self.job.plan, generated)

    # ---- cancel and lost prompts --------------------------------------------------------------
    def _send_cancel(self) -> bool:
        """Ask the server to stop: True when the prompt was still queued there (deleted: done)."""
        self.cancel_sent = True
        if not self.running and self.prompt_id in self.client.queued_prompt_ids():
            self.client.delete_queued([self.prompt_id])
            if self.prompt_id not in self.client.queued_prompt_ids():
                return True
        self.client.interrupt(self.prompt_id)
        return False

    def _check_still_there(self) -> bool:
        """Every few seconds while waiting: the prompt is still queued, running or in the history
        (True: it finished unseen, and its results are collected)."""
        now = time.monotonic()
        if self.running or now - self.last_check < LOST_PROMPT_CHECK:
            return False
        self.last_check = now
        if self.prompt_id in self.client.queued_prompt_ids():
            return False
        if self.client.history_outputs(self.prompt_id):
            return self._collect()
        if self.client.queue_length() == 0:
            raise ExecutionFailed(
                f"The ComfyUI server {self.client.server.name} dropped the job from its queue."
            )
        return False


def _execution_error(data: dict[str, object], server: str) -> ExecutionFailed:
    kind_text = str(data.get("exception_type", ""))
    message = str(data.get("exception_message", "")).strip()[:500] or "no message"
    node = data.get("node_type", "")
    lines = data.get("traceback")
    detail = "".join(line for line in lines if isinstance(line, str)) if isinstance(lines, list) else ""
    if "OutOfMemory" in kind_text or "out of memory" in message.lower():
        return ExecutionFailed(
            f"The ComfyUI server {server} ran out of memory: try a smaller size or batch.",
            FailureKind.OUT_OF_MEMORY,
            detail,
        )
    return ExecutionFailed(
        f"The ComfyUI server {server} failed in {node}: {message}", FailureKind.INTERNAL, detail
    )
