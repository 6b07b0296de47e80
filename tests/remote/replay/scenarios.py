"""The scenarios recorded from a real ComfyUI and replayed in CI: the requests and what is done with
them. `record.py` runs them against the real server through the recording proxy; the replay tests
run the same ones against the replay (a request that differs would not match the recording)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from studio.core.events import Event, Step
from studio.core.request import GenerationRequest, MaskOptions, Mode, OutpaintOptions
from studio.remote.engine import RemoteEngine
from tests.remote.comfy_server import CHECKPOINT

SIZE = 64  # pixels: latents of 8x8, so that CPU steps stay short
JOB_SCENARIOS = ("txt2img", "img2img", "inpaint", "outpaint", "cancel")
SCENARIOS = (*JOB_SCENARIOS, "info")


def init_image() -> Image.Image:
    """A small deterministic picture: a gradient with a disc."""
    image = Image.linear_gradient("L").resize((SIZE, SIZE)).convert("RGB")
    ImageDraw.Draw(image).ellipse((16, 16, 48, 48), fill=(200, 80, 40))
    return image


def centre_mask() -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(mask).rectangle((20, 20, 44, 44), fill=255)
    return mask


def request(scenario: str) -> GenerationRequest:
    """The request a job scenario submits."""
    base = GenerationRequest(
        prompt="a small red fox, watercolour",
        negative_prompt="blurry",
        model=CHECKPOINT,
        steps=3,
        guidance=5.0,
        scheduler="DPM++ 2M Karras",
        seed=1234,
        width=SIZE,
        height=SIZE,
    )
    if scenario == "txt2img":
        return base
    if scenario == "img2img":
        return base.replace(mode=Mode.IMG2IMG, init_image=init_image(), strength=0.7, steps=4)
    if scenario == "inpaint":
        return base.replace(
            mode=Mode.INPAINT,
            init_image=init_image(),
            mask=centre_mask(),
            strength=0.8,
            steps=4,
            mask_options=MaskOptions(),
        )
    if scenario == "outpaint":
        return base.replace(
            mode=Mode.OUTPAINT, init_image=init_image(), outpaint=OutpaintOptions(right=32, overlap=8)
        )
    if scenario == "cancel":
        return base.replace(steps=8, seed=99)
    raise ValueError(f"no such job scenario: {scenario}")


@dataclass
class Run:
    """What a scenario saw: the job's events in order (empty for "info"), and the info calls' results."""

    events: list[Event] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    statuses: list[object] = field(default_factory=list)


def run(engine: RemoteEngine, scenario: str, timeout: float = 600) -> Run:
    """Run `scenario` on a started engine and wait for its end. "cancel" cancels at the first Step."""
    out = Run()
    if scenario == "info":
        out.models = engine.models()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # the worker's first /queue + /system_stats poll
            out.statuses = list(engine.server_status())
            if all(s.reachable or s.last_error for s in engine.server_status()):
                break
            time.sleep(0.05)
        return out
    handle = engine.submit(request(scenario))
    first_step = threading.Event()

    def seen(event: Event) -> None:
        out.events.append(event)
        if isinstance(event, Step):
            first_step.set()

    handle.subscribe(seen)
    if scenario == "cancel":
        if not first_step.wait(timeout):
            raise TimeoutError("the cancel scenario saw no step")
        handle.cancel()
    if handle.wait(timeout) is None:
        raise TimeoutError(f"scenario {scenario} did not end within {timeout:.0f} s")
    return out
