"""The canvas's inpaint and outpaint on a REAL ComfyUI (marked `comfyui`: env STUDIO_COMFYUI), through the
engine the app's factory builds when the settings name the server: the canvas does not know where its
jobs run, and the results keep the original byte for byte outside the effective mask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.core.masks import effective_mask
from studio.core.remote_servers import RemoteServer
from studio.core.request import GenerationRequest, InpaintArea, PreviewKind
from studio.core.settings import Settings
from tests.remote.comfy_server import CHECKPOINT

pytestmark = pytest.mark.comfyui


@pytest.fixture
def remote_workspace(qtbot: Any, tmp_path: Path, comfy_url: str) -> Iterator[Any]:
    from studio.app import engine_factory
    from studio.core.document import Document
    from studio.ui.bridge import EngineBridge
    from studio.ui.canvas import CanvasWorkspace

    settings = Settings(run_on="comfyui", comfyui_servers=(RemoteServer(comfy_url),))
    bridge = EngineBridge(engine_factory(settings))
    base = GenerationRequest(
        prompt="a lighthouse",
        model=CHECKPOINT,
        steps=3,
        width=64,
        height=64,
        seed=3,
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
        generation_settings=base,
        random_seed=False,
    )
    qtbot.addWidget(ws)
    ws.show()
    try:
        yield ws
    finally:
        bridge.shutdown(timeout=30)


def _wait_candidates(qtbot: Any, ws: Any) -> None:
    messages: list[str] = []
    ws.message.connect(messages.append)
    qtbot.waitUntil(lambda: ws.generation.has_candidates or not ws.generation.busy, timeout=300_000)
    assert ws.generation.has_candidates, messages


def test_canvas_inpaint_on_the_server(remote_workspace: Any, qtbot: Any) -> None:
    ws = remote_workspace
    original = ws.doc.image.copy()
    ws.doc.set_mask_region((70, 20, 90, 40), np.full((20, 20), 255, np.uint8), "mask")
    panel = ws.inpaint_panel
    panel.area.setCurrentIndex(panel.area.findData(InpaintArea.ONLY_MASKED))
    panel.padding.setValue(4)
    panel.feather.setValue(2)
    assert ws.inpaint() is not None
    _wait_candidates(qtbot, ws)
    ws.accept_candidate()
    eff = np.asarray(effective_mask(Image.fromarray(ws.doc.mask), 0, 2))
    image = ws.doc.image
    assert np.array_equal(image[eff == 0], original[eff == 0])
    assert (image != original).any(axis=2)[20:40, 70:90].mean() > 0.5


def test_canvas_outpaint_on_the_server(remote_workspace: Any, qtbot: Any) -> None:
    ws = remote_workspace
    original = ws.doc.image.copy()
    ws.inpaint_panel.feather.setValue(0)
    op = ws.outpaint_panel
    op.spins["right"].setValue(24)
    op.overlap.setValue(0)
    assert ws.outpaint() is not None
    _wait_candidates(qtbot, ws)
    ws.accept_candidate()
    assert ws.doc.size == (144, 80)
    assert np.array_equal(ws.doc.image[:, 0:120], original)
    assert not np.array_equal(ws.doc.image[:, 120:], np.zeros((80, 24, 3), np.uint8))
