"""Issue 14 done-when, through the canvas with the real Engine on the tiny model and random-weight
control models: a hidden scribble layer as a canny ControlNet and an IP-Adapter reference in one
inpaint job; previews arrive, the result is accepted as a layer, its parameters name both controls."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.control import ControlKind
from studio.core.layers import LayerKind
from studio.core.request import GenerationRequest, PreviewKind
from tests.engine import control_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def control_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("control-models")
    return {
        "cn": control_files.controlnet_folder(folder / "control_tiny_canny", seed=1),
        "ip": control_files.ip_adapter_file(folder / "ip" / "ip-adapter_tiny.safetensors"),
        "encoder": control_files.image_encoder_folder(folder / "ip" / "image_encoder"),
    }


@pytest.fixture
def canvas(qtbot: Any, tmp_path: Path, tiny_dir: Path) -> Iterator[Any]:
    from studio.core.document import Document
    from studio.ui.bridge import EngineBridge
    from studio.ui.canvas import CanvasWorkspace

    def factory(publish: Any) -> Any:
        from studio.engine.engine import Engine

        return Engine(publish, device="cpu", precision="fp32", torch_threads=1)

    bridge = EngineBridge(factory)
    base = GenerationRequest(
        prompt="a door", model=str(tiny_dir), steps=3, seed=3, scheduler="Euler", preview=PreviewKind.X0
    )
    image = np.full((64, 96, 3), 225, np.uint8)
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
    previews: list = []
    ws.generation.preview_changed.connect(lambda rgb, target: previews.append(target))
    ws.previews = previews
    try:
        yield ws
    finally:
        bridge.shutdown(timeout=30)


def _scribble_layer(ws: Any) -> Any:
    """A "Sketch" layer with a black rectangle outline, hidden (it guides, it is not painted in)."""
    sketch = ws.doc.add_layer("Sketch")
    rgba = np.zeros((64, 96, 4), np.uint8)
    outline = Image.new("L", (96, 64), 0)
    ImageDraw.Draw(outline).rectangle((30, 14, 70, 50), outline=255, width=3)
    rgba[..., 3] = np.asarray(outline)
    ws.doc.begin_stroke(sketch)
    ws.doc.stroke_backup((0, 0, 96, 64))
    sketch.pixels[:] = rgba  # black strokes: premultiplied BGR stays 0
    ws.doc.stroke_touched((0, 0, 96, 64))
    ws.doc.end_stroke()
    ws.doc.set_layer_visible(ws.doc.index_of(sketch), False)
    return sketch


def test_canny_scribble_layer_and_ip_reference_in_one_inpaint_job(
    canvas: Any, qtbot: Any, control_models: dict[str, Path], tmp_path: Path
) -> None:
    ws = canvas
    _scribble_layer(ws)
    reference = tmp_path / "reference.png"
    Image.new("RGB", (48, 48), (30, 160, 60)).save(reference)
    ws.control_panel.set_models([control_models["cn"], control_models["ip"]])
    cn = ws.control_panel.add_unit(ControlKind.CONTROLNET)
    assert cn.source.currentData() == "Sketch" and cn.model.currentData() == str(control_models["cn"])
    cn.preprocessor.setCurrentIndex(cn.preprocessor.findData("canny"))
    ip = ws.control_panel.add_unit(ControlKind.IP_ADAPTER)
    assert ip.model.currentData() == str(control_models["ip"])
    ws.prompts.open_file = lambda title, file_filter: str(reference)
    browse = ip.source.count() - 1  # "Image file…"
    ip.source.setCurrentIndex(browse)
    ip.source.activated.emit(browse)
    ip.weight.setValue(0.7)
    ws.doc.set_mask_region((24, 8, 76, 56), np.full((48, 52), 255, np.uint8), "mask")
    original = ws.doc.image.copy()
    job = ws.inpaint()
    assert job is not None, ws.status.text()
    assert [u.kind for u in job.request.controls] == [ControlKind.CONTROLNET, ControlKind.IP_ADAPTER]
    errors: list[str] = []
    ws.message.connect(errors.append)
    qtbot.waitUntil(lambda: ws.generation.has_candidates or not ws.generation.busy, timeout=300_000)
    assert ws.generation.has_candidates, errors
    assert any(target is not None for target in ws.previews)  # previews were shown on the canvas
    params = ws.generation.candidate_job.parameters[0]
    assert params["ControlNet 0"].startswith("Module: canny, Model: control_tiny_canny")
    assert "Studio Image: Sketch" in params["ControlNet 0"]
    assert "Studio Type: ip_adapter" in params["ControlNet 1"] and "Weight: 0.7" in params["ControlNet 1"]
    assert ws.accept_candidate()
    assert ws.doc.layers[-1].kind is LayerKind.RESULT
    assert not np.array_equal(ws.doc.image, original)
