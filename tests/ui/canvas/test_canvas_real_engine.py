"""The canvas with the real Engine and the tiny pipeline: inpaint "only masked" and outpaint, end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.core.masks import effective_mask
from studio.core.plan import plan
from studio.core.request import GenerationRequest, InpaintArea, PreviewKind

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_inpaint_model(tiny_inpaint_dir: Path) -> Path:
    return tiny_inpaint_dir


@pytest.fixture
def real_workspace(qtbot: Any, tmp_path: Path, tiny_inpaint_model: Path) -> Iterator[Any]:
    from studio.core.document import Document
    from studio.ui.bridge import EngineBridge
    from studio.ui.canvas import CanvasWorkspace

    def factory(publish: Any) -> Any:
        from studio.engine.engine import Engine

        return Engine(publish, device="cpu", precision="fp32", torch_threads=1)

    bridge = EngineBridge(factory)
    base = GenerationRequest(
        prompt="a test",
        model=str(tiny_inpaint_model),
        steps=3,
        width=64,
        height=64,
        seed=3,
        batch=2,
        scheduler="Euler",
        preview=PreviewKind.X0,
    )
    image = np.random.default_rng(1).integers(0, 256, (80, 120, 3), dtype=np.uint8)
    ws = CanvasWorkspace(
        bridge.submit,
        lambda: base,
        tmp_path / "autosave",
        document=Document(image),
        unsaved_choice=lambda parent: "discard",
        generation_settings=base,  # the canvas panel's own prompt, steps, batch, seed, sampler
        random_seed=False,
    )
    qtbot.addWidget(ws)
    ws.show()
    previews: list = []
    ws.generation.preview_changed.connect(lambda rgb, target: previews.append(target))
    ws.previews = previews
    try:
        yield ws
    finally:
        bridge.shutdown(timeout=30)


def _wait_candidates(qtbot: Any, ws: Any) -> None:
    errors: list[str] = []
    ws.message.connect(errors.append)
    qtbot.waitUntil(lambda: ws.generation.has_candidates or errors or not ws.generation.busy, timeout=180_000)
    assert ws.generation.has_candidates, errors


def test_only_masked_inpaint_pastes_back_in_place(real_workspace: Any, qtbot: Any) -> None:
    ws = real_workspace
    original = ws.doc.image.copy()
    ws.doc.set_mask_region((70, 20, 90, 40), np.full((20, 20), 255, np.uint8), "mask")
    panel = ws.inpaint_panel
    panel.area.setCurrentIndex(panel.area.findData(InpaintArea.ONLY_MASKED))
    panel.padding.setValue(4)
    panel.feather.setValue(2)
    job = ws.inpaint()
    assert job is not None
    _wait_candidates(qtbot, ws)
    assert len(ws.generation.candidates) == 2
    the_plan = ws.generation.candidate_job.plan
    assert the_plan == plan(job.request) and the_plan.region != (0, 0, 120, 80)  # what the engine ran
    assert {t for t in ws.previews if t is not None} == {the_plan.region_in_source}
    eff = np.asarray(effective_mask(Image.fromarray(ws.doc.mask), 0, 2))
    for candidate in ws.generation.candidates:  # the engine itself composites exactly
        assert np.array_equal(candidate[eff == 0], original[eff == 0])
    assert any(t is not None and t != (0, 0, 120, 80) for t in ws.previews)  # previews in the crop box
    ws.actions_["next"].trigger()
    ws.accept_candidate()
    image = ws.doc.image
    assert np.array_equal(image[eff == 0], original[eff == 0])  # byte-identical outside the mask
    changed = (image != original).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert changed[20:40, 70:90].mean() > 0.5  # the masked square was regenerated, in place
    assert xs.min() >= 64 and xs.max() < 96 and ys.min() >= 14 and ys.max() < 46
    ws.undo()
    assert np.array_equal(ws.doc.image, original)


def test_outpaint_grows_the_canvas_and_keeps_the_original(real_workspace: Any, qtbot: Any) -> None:
    ws = real_workspace
    original = ws.doc.image.copy()
    ws.inpaint_panel.feather.setValue(0)
    op = ws.outpaint_panel
    op.spins["right"].setValue(24)
    op.spins["top"].setValue(16)
    op.overlap.setValue(0)
    assert ws.outpaint() is not None
    _wait_candidates(qtbot, ws)
    ws.accept_candidate()
    assert ws.doc.size == (144, 96)
    assert np.array_equal(ws.doc.image[16:96, 0:120], original)
    assert not np.array_equal(ws.doc.image[0:16], np.zeros((16, 144, 3), np.uint8))
    ws.undo()
    assert ws.doc.size == (120, 80)
