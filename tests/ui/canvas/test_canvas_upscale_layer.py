""" "Upscale layer…" on the canvas with the real Engine: the active layer's content, upscaled by a random
ESRGAN (or Lanczos), comes back as a new layer above it at the content's corner (cut at the canvas's
edge, said in the message line); the original layer is untouched and one undo removes the new one; an
empty layer and a missing upscaler get a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.layers import Layer
from studio.core.request import GenerationRequest, PreviewKind, UpscaleOptions
from tests.upscaler_files import esrgan_file

pytestmark = pytest.mark.slow


@pytest.fixture
def workspace(qtbot: Any, tmp_path: Path) -> Iterator[Any]:
    from studio.core.document import Document
    from studio.ui.bridge import EngineBridge
    from studio.ui.canvas import CanvasWorkspace

    def factory(publish: Any) -> Any:
        from studio.engine.engine import Engine

        return Engine(publish, device="cpu", precision="fp32", torch_threads=1)

    folder = tmp_path / "upscalers"
    esrgan_file(folder / "4x-Tiny.safetensors")
    bridge = EngineBridge(factory)
    base = GenerationRequest(steps=3, preview=PreviewKind.NONE, upscaler_dirs=(str(folder),))
    image = np.random.default_rng(1).integers(0, 256, (80, 120, 3), dtype=np.uint8)
    ws = CanvasWorkspace(
        bridge.submit,
        lambda: base,
        tmp_path / "autosave",
        document=Document(image),
        unsaved_choice=lambda parent: "discard",
    )
    qtbot.addWidget(ws)
    ws.show()
    messages: list[str] = []
    ws.layer_upscaler.message.connect(messages.append)
    ws.messages = messages
    yield ws
    bridge.shutdown(timeout=20)


def _patch_layer(ws: Any) -> Layer:
    rgba = np.zeros((80, 120, 4), np.uint8)
    rgba[6:16, 5:25] = (200, 40, 40, 255)
    rgba[6:16, 15:25, 3] = 128
    return ws.doc.add_layer(layer=Layer.from_rgba("Patch", rgba))


def test_a_layer_upscaled_by_a_model_becomes_a_new_layer(qtbot: Any, workspace: Any) -> None:
    ws = workspace
    patch = _patch_layer(ws)
    before = patch.pixels.copy()
    asked: list[Any] = []

    def answer(_parent: Any, size: Any, models: Any, _title: str) -> UpscaleOptions:
        asked.append((size, list(models)))
        return UpscaleOptions(enabled=True, scale=2.0, upscaler="4x-Tiny")

    ws.layer_upscaler.ask_upscale = answer
    with qtbot.waitSignal(ws.layer_upscaler.layer_added, timeout=60_000) as blocker:
        assert ws.upscale_layer() is not None
        assert ws.cancel_button.isVisible()  # the job can be cancelled while it runs
    assert asked == [((20, 10), ["4x-Tiny"])]
    added = blocker.args[0]
    doc = ws.doc
    assert doc.layers.index(added) == doc.layers.index(patch) + 1 and added.name == "Patch ×2"
    assert added.bounds == (5, 6, 45, 26)
    rgba = added.rgba()
    assert rgba[10, 10, 3] == 255 and rgba[10, 40, 3] < 200  # the alpha came along, upscaled
    assert np.array_equal(patch.pixels, before)  # the original layer is untouched
    qtbot.waitUntil(lambda: not ws.cancel_button.isVisible(), timeout=5_000)
    assert any("Added Patch ×2: 40 × 20" in m for m in ws.messages)
    ws.doc.undo()
    assert added not in ws.doc.layers and patch in ws.doc.layers


def test_cut_at_the_canvas_empty_layers_and_missing_upscalers(qtbot: Any, workspace: Any) -> None:
    ws = workspace
    ws.layer_upscaler.ask_upscale = lambda *_: UpscaleOptions(enabled=True, scale=2.0, upscaler="Lanczos")
    ws.doc.set_active(0)
    with qtbot.waitSignal(ws.layer_upscaler.layer_added, timeout=60_000) as blocker:
        assert ws.upscale_layer() is not None, (
            ws.messages
        )  # the image layer: 120 x 80 -> 240 x 160 on a 120 x 80 canvas
    assert blocker.args[0].bounds == (0, 0, 120, 80)
    assert any("the part past the canvas was cut" in m for m in ws.messages)
    ws.doc.set_active(len(ws.doc.layers) - 1)
    ws.doc.add_layer()
    ws.layers_panel.buttons["upscale"].click()  # the Layers panel's button reaches the upscaler
    assert "is empty: there is nothing to upscale" in ws.messages[-1] and not ws.layer_upscaler.busy
    assert ws.upscale_layer() is None
    _patch_layer(ws)
    ws.layer_upscaler.ask_upscale = lambda *_: UpscaleOptions(enabled=True, upscaler="4x-Gone")
    ws.upscale_layer()
    qtbot.waitUntil(lambda: not ws.layer_upscaler.busy, timeout=60_000)
    assert "Upscale failed: The upscaler '4x-Gone' was not found" in ws.messages[-1]
