"""A model that fails to load leaves the previous one usable (issue 11), with a message that says why."""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.core.events import Failed, FailureKind, Finished, Loading


def _loaded(engine, request_for):  # noqa: ANN001, ANN202 - fixtures from conftest
    eng, rec = engine
    assert isinstance(rec.wait_for(eng.submit(request_for(steps=1))), Finished)
    return eng, rec, eng._models.loaded.pipe


def test_a_folder_without_unet_fails_before_unloading(engine, request_for, tiny_dir, tmp_path) -> None:  # noqa: ANN001
    eng, rec, pipe = _loaded(engine, request_for)
    broken = tmp_path / "half-copied"
    shutil.copytree(tiny_dir, broken, ignore=shutil.ignore_patterns("unet"))
    end = rec.wait_for(eng.submit(request_for(model=str(broken))))
    assert isinstance(end, Failed) and end.kind is FailureKind.MODEL, end
    assert "half-copied is not a complete Stable Diffusion model: unet/ is missing" in end.message
    assert eng._models.loaded.pipe is pipe  # never unloaded
    job = eng.submit(request_for(seed=3))
    assert isinstance(rec.wait_for(job), Finished)
    assert not [e for e in rec.of(job) if isinstance(e, Loading)]  # no reload


def test_a_model_failing_while_loading_gives_back_the_previous(
    engine, request_for, tiny_dir, tmp_path
) -> None:  # noqa: ANN001
    eng, rec, _ = _loaded(engine, request_for)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a safetensors file" * 20)
    end = rec.wait_for(eng.submit(request_for(model=str(bad))))
    assert isinstance(end, Failed) and end.kind is FailureKind.MODEL, end
    assert eng._models.resident_ref == str(tiny_dir)  # loaded again right after the failure
    job = eng.submit(request_for(seed=4))
    assert isinstance(rec.wait_for(job), Finished)
    assert not [e for e in rec.of(job) if isinstance(e, Loading)]


def test_check_ref_needs_no_weights(tiny_dir: Path, tmp_path: Path) -> None:
    from studio.engine.loading import ModelLoadError, check_ref

    check_ref(str(tiny_dir))
    shutil.copytree(tiny_dir, tmp_path / "m", ignore=shutil.ignore_patterns("unet", "vae"))
    try:
        check_ref(str(tmp_path / "m"))
    except ModelLoadError as exc:
        assert "unet/, vae/ are missing" in str(exc)
    else:
        raise AssertionError("an incomplete folder passed")
