"""Every scheduler name runs, and progress counts denoising steps 1..n (not model calls)."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.events import Finished, Started, Step
from studio.core.request import Mode
from studio.core.schedulers import SCHEDULER_NAMES
from studio.engine.schedulers import SPECS, completed_step, create_scheduler, expected_steps


def _steps(rec, job):
    return [e.step for e in rec.of(job) if isinstance(e, Step)]


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_scheduler_makes_an_image_with_exact_step_counts(shared_engine, request_for, name):
    eng, rec = shared_engine
    job = eng.submit(request_for(scheduler=name, steps=4, batch=2))
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert len(end.images) == 2
    assert _steps(rec, job) == [1, 2, 3, 4]
    assert {e.total for e in rec.of(job) if isinstance(e, Step)} == {4}
    started = next(e for e in rec.of(job) if isinstance(e, Started))
    assert started.total_steps == 4
    assert end.images[0].size == (64, 64)


@pytest.mark.parametrize("name", ["Heun", "DPM2", "DPM2 a", "DPM++ SDE", "PNDM", "Euler"])
@pytest.mark.parametrize("steps,strength", [(6, 0.5), (5, 0.75)])
def test_img2img_step_counts_follow_strength(shared_engine, request_for, name, steps, strength):
    eng, rec = shared_engine
    image = Image.new("RGB", (64, 64), (40, 120, 200))
    req = request_for(mode=Mode.IMG2IMG, init_image=image, scheduler=name, steps=steps, strength=strength)
    job = eng.submit(req)
    assert isinstance(rec.wait_for(job), Finished)
    n = expected_steps(steps, strength)
    assert _steps(rec, job) == list(range(1, n + 1))


@pytest.mark.parametrize(
    "name", ["Euler a", "DPM2 a", "DPM++ SDE", "DDPM", "LCM", "DPM++ 2M SDE Karras", "DPM++ 3M SDE", "TCD"]
)
def test_stochastic_schedulers_are_reproducible_with_and_without_previews(shared_engine, request_for, name):
    """Ancestral noise must come from the job's generators (not torch's global one), previews or not."""
    import numpy as np

    from studio.core.request import PreviewKind

    eng, rec = shared_engine
    runs = [
        rec.wait_for(eng.submit(request_for(scheduler=name, steps=3, seed=5, preview=kind)))
        for kind in (PreviewKind.NONE, PreviewKind.X0, PreviewKind.LATENT)
    ]
    first = np.asarray(runs[0].images[0])
    assert all(np.array_equal(first, np.asarray(r.images[0])) for r in runs[1:])


def test_completed_step_mapping():
    # first order: every call completes a step
    assert [completed_step(i, 4, 4, 1) for i in range(4)] == [1, 2, 3, 4]
    # Heun / DPM2: 2n-1 calls
    assert [completed_step(i, 7, 4, 2) for i in range(7)] == [None, 1, None, 2, None, 3, 4]
    # PLMS: n+1 calls, the first a warm-up
    assert [completed_step(i, 5, 4, 1) for i in range(5)] == [None, 1, 2, 3, 4]
    assert [completed_step(i, 1, 1, 2) for i in range(1)] == [1]


def test_overrides_reset_options_left_by_the_base_config():
    base = dict(create_scheduler("DPM++ 2M Karras", _base_config()).config)
    assert base["use_karras_sigmas"] is True
    euler = create_scheduler("Euler", base)
    assert euler.config.use_karras_sigmas is False
    assert euler.config.beta_schedule == "scaled_linear"  # the model's schedule is kept
    assert create_scheduler("PNDM", base).config.skip_prk_steps is True
    clipping = {**base, "clip_sample": True}
    assert create_scheduler("DDIM", clipping).config.clip_sample is False
    assert set(SPECS) == set(SCHEDULER_NAMES)


def test_unknown_scheduler_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown scheduler"):
        create_scheduler("Nope", _base_config())


def test_pipelines_get_their_own_scheduler_and_share_weights(tiny_dir):
    import torch

    from studio.engine.models import ModelManager

    manager = ModelManager("cpu", torch.float32)
    manager.ensure(str(tiny_dir))
    txt = manager.pipeline_for(Mode.TXT2IMG, "Euler")
    img = manager.pipeline_for(Mode.IMG2IMG, "Heun")
    inp = manager.pipeline_for(Mode.INPAINT, "DDIM")
    assert txt.unet is img.unet is inp.unet and txt.vae is inp.vae
    assert len({id(p.scheduler) for p in (txt, img, inp)}) == 3
    assert type(txt.scheduler).__name__ == "EulerDiscreteScheduler"
    assert type(img.scheduler).__name__ == "HeunDiscreteScheduler"
    assert manager.pipeline_for(Mode.OUTPAINT, "Euler") is inp
    manager.unload()
    assert manager.loaded is None


def _base_config() -> dict:
    return {
        "beta_start": 0.00085,
        "beta_end": 0.012,
        "beta_schedule": "scaled_linear",
        "num_train_timesteps": 1000,
        "steps_offset": 1,
    }
