"""JobHandle: one job's events only, replay for late subscribers, cancel, wait, rejection."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from studio.core.events import Cancelled, Event, Finished, JobHandle, Queued, Started, Step
from studio.core.plan import plan
from studio.core.request import GenerationRequest, PreviewKind


def _handle(job_id: int = 7) -> tuple[JobHandle, list[int]]:
    cancels: list[int] = []

    def cancel(jid: int) -> bool:
        cancels.append(jid)
        return True

    return JobHandle(job_id, GenerationRequest(steps=3), cancel), cancels


def _step(job_id: int, n: int) -> Step:
    return Step(job_id, n, 3, 0.1 * n, np.zeros((2, 2, 3), np.uint8), PreviewKind.X0)


def test_subscribers_get_the_story_so_far_then_live_events() -> None:
    handle, _ = _handle()
    request = handle.request
    started = Started(7, plan(request))
    for event in (Queued(7, 0), started, _step(7, 1), _step(7, 2)):
        handle.deliver(event)
    assert handle.plan is started.plan and not handle.done
    seen: list[Event] = []
    handle.subscribe(seen.append)
    assert [type(e).__name__ for e in seen] == ["Queued", "Started", "Step"]
    assert seen[-1].step == 2  # type: ignore[attr-defined]  # only the newest preview is replayed
    handle.deliver(_step(7, 3))
    finished = Finished(7, [], [0], request, 0.3)
    handle.deliver(finished)
    assert [type(e).__name__ for e in seen][-2:] == ["Step", "Finished"]
    assert handle.done and handle.outcome is finished and handle.wait(0) is finished


def test_a_failing_subscriber_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    handle, _ = _handle()
    got: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("bug")

    handle.subscribe(broken)
    handle.subscribe(got.append)
    handle.deliver(Queued(7, 0))
    handle.deliver(Cancelled(7, 0))
    assert [type(e) for e in got] == [Queued, Cancelled]
    assert "subscriber failed" in caplog.text
    handle.unsubscribe(got.append)
    handle.deliver(Queued(7, 1))
    assert len(got) == 2


def test_other_jobs_events_are_refused() -> None:
    handle, _ = _handle(7)
    with pytest.raises(ValueError):
        handle.deliver(Queued(8, 0))


def test_cancel_reaches_the_engine_until_the_job_ends() -> None:
    handle, cancels = _handle()
    assert handle.cancel() and cancels == [7]
    handle.deliver(Cancelled(7, 1))
    assert not handle.cancel() and cancels == [7]


def test_wait_blocks_until_the_terminal_event() -> None:
    handle, _ = _handle()
    assert handle.wait(0.01) is None
    end = Cancelled(7, 2)
    threading.Timer(0.05, handle.deliver, (end,)).start()
    assert handle.wait(5) is end


def test_reject_ends_the_job_with_an_input_failure() -> None:
    handle, cancels = _handle()
    failed = handle.reject("Width 65 is not a multiple of 8.")
    assert handle.rejection is failed and handle.outcome is failed and handle.done
    assert failed.kind.value == "input" and failed.job_id == 7
    seen: list[Event] = []
    handle.subscribe(seen.append)
    assert seen == [failed] and not handle.cancel() and cancels == []
