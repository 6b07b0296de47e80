"""The real Engine on the tiny model: a preview of every batch image at each step, and the x0 / x_t
toggle of a running job (`JobHandle.set_preview_kind`) taking effect at its next step."""

from __future__ import annotations

from typing import Any

from studio.core.events import Event, Finished, ModelReady, Step
from studio.core.request import PreviewKind


def test_batch_previews_and_live_toggle(engine: Any, request_for: Any) -> None:
    eng, _recorder = engine
    steps: list[Step] = []
    ready: list[ModelReady] = []
    handle = eng.submit(request_for(batch=3, steps=30, preview=PreviewKind.X0, preview_interval=1))

    def on_event(event: Event) -> None:
        if isinstance(event, ModelReady):
            ready.append(event)
        if isinstance(event, Step):
            steps.append(event)
            if event.step == 1:  # the artist clicks x_t while the job runs
                handle.set_preview_kind(PreviewKind.LATENT)

    handle.subscribe(on_event)
    outcome = handle.wait(180)
    assert isinstance(outcome, Finished) and len(outcome.images) == 3
    assert steps[0].preview_kind is PreviewKind.X0
    assert len(steps[0].previews) == 3 and steps[0].preview is steps[0].previews[0]
    assert all(p.shape == steps[0].previews[0].shape for s in steps for p in s.previews)
    kinds = [s.preview_kind for s in steps]
    assert kinds[-1] is PreviewKind.LATENT  # switched while the job ran, from its next step on
    assert kinds == sorted(kinds, key=lambda k: k is PreviewKind.LATENT)  # x0 ... then x_t ...
    assert ready and ready[0].native_size == 64 and ready[0].ref == handle.request.model
