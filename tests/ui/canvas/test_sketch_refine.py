"""'Sketch then refine' with the real Engine and the built-in model (studio-mini), through the canvas
widgets: colour painted into a region with the colour brush and inpainted at moderate strength (0.5)
pulls the result towards that colour, compared with the same inpaint (same seed) without the paint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from studio.core.paths import builtin_model_dir
from studio.core.request import GenerationRequest, PreviewKind
from studio.ui.canvas.tools import Tool

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (builtin_model_dir() / "model_index.json").exists(), reason="studio-mini is not installed"
    ),
]

SIZE = 64  # studio-mini's own size: one generation covers the picture
BOX = (16, 16, 48, 48)  # x0, y0, x1, y1: the region sketched and inpainted
RED = (255, 0, 0)


@pytest.fixture
def canvas(qtbot: Any, tmp_path: Path) -> Iterator[Any]:
    """A canvas on a soft grey-green picture, wired to the real Engine (built-in model, 1 thread)."""
    from studio.core.document import Document
    from studio.ui.bridge import EngineBridge
    from studio.ui.canvas import CanvasWorkspace

    def factory(publish: Any) -> Any:
        from studio.engine.engine import Engine

        return Engine(publish, device="cpu", precision="fp32", torch_threads=1)

    bridge = EngineBridge(factory)
    settings = GenerationRequest(
        prompt="smiling face with halo",
        model="",  # the built-in studio-mini
        steps=12,
        width=SIZE,
        height=SIZE,
        seed=11,
        strength=0.5,
        preview=PreviewKind.NONE,
    )
    picture = np.empty((SIZE, SIZE, 3), np.uint8)
    picture[:] = (120, 140, 125)
    ws = CanvasWorkspace(
        bridge.submit,
        lambda: settings,
        tmp_path / "autosave",
        document=Document(picture),
        unsaved_choice=lambda parent: "discard",
        generation_settings=settings,  # the canvas panel's own prompt, strength, seed
        random_seed=False,
    )
    qtbot.addWidget(ws)
    ws.resize(900, 600)
    ws.show()
    qtbot.waitExposed(ws)
    ws.view.scale, ws.view.offset = 4.0, QPointF(10, 10)
    try:
        yield ws
    finally:
        bridge.shutdown(timeout=30)


def _drag(qtbot: Any, view: Any, points: list[tuple[float, float]]) -> None:
    def at(x: float, y: float) -> QPoint:
        return view.doc_to_widget(x, y).toPoint()

    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    qtbot.mousePress(view, left, none, at(*points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, at(*p))
    qtbot.mouseRelease(view, left, none, at(*points[-1]))


def _sketch_red(ws: Any, qtbot: Any) -> None:
    """P, red, a hard 10 px brush scribbled over the box on the paint layer."""
    qtbot.keyClick(ws.view, Qt.Key.Key_P)
    assert ws.view.tools.tool is Tool.PAINT
    ws.colour_box.set_colour(RED)
    ws.view.tools.settings.size, ws.view.tools.settings.hardness = 10, 1.0
    x0, y0, x1, y1 = BOX
    for y in range(y0 + 4, y1, 6):
        _drag(qtbot, ws.view, [(x0 + 4, y), (x1 - 4, y)])


def _inpaint_box(ws: Any, qtbot: Any) -> np.ndarray:
    """Mask the box, inpaint it, and return the box of the (only) candidate; the candidate is discarded."""
    x0, y0, x1, y1 = BOX
    ws.doc.set_mask_region(BOX, np.full((y1 - y0, x1 - x0), 255, np.uint8), "mask")
    messages: list[str] = []
    ws.message.connect(messages.append)
    job = ws.inpaint()
    assert job is not None, messages
    assert job.request.strength == 0.5 and job.request.model == ""
    qtbot.waitUntil(lambda: ws.generation.has_candidates or not ws.generation.busy, timeout=300_000)
    assert ws.generation.has_candidates, messages
    region = ws.generation.candidates[0][y0:y1, x0:x1].astype(float)
    ws.generation.discard()
    return region


def _redness(rgb: np.ndarray) -> float:
    """How far the mean colour leans to red: R minus the mean of G and B."""
    r, g, b = rgb.reshape(-1, 3).mean(axis=0)
    return float(r - (g + b) / 2)


def test_colour_painted_into_a_region_guides_its_inpaint(canvas: Any, qtbot: Any) -> None:
    plain = _inpaint_box(canvas, qtbot)
    _sketch_red(canvas, qtbot)
    x0, y0, x1, y1 = BOX
    painted = canvas.doc.image[y0:y1, x0:x1]
    assert (painted == RED).all(axis=2).mean() > 0.6  # the sketch is on the picture, in the box
    assert canvas.doc.active_layer.name == "Paint 1" and canvas.doc.active_layer.pixels.any()
    sketched = _inpaint_box(canvas, qtbot)
    assert _redness(sketched) > _redness(plain) + 40, (_redness(plain), _redness(sketched))
    # and it is refined, not copied: the model changed the sketch at strength 0.5
    assert np.abs(sketched - painted).mean() > 3
