"""The Controls panel at work, offscreen, into PNGs (not a test):

    python -m tests.ui.screenshot_controls docs/

Fresh STUDIO_* folders; the real engine on CPU with the built-in studio-mini, a ControlNet made from its
UNet (`ControlNetModel.from_unet`, its zero convolutions given small random weights) and a random
IP-Adapter with a tiny CLIP image encoder beside it, all in the user data folder's controls/ folder.
On the canvas a hidden "Sketch" layer with strokes is the scribble ControlNet's image and a picture
file the IP-Adapter's reference, for one inpaint job. Writes

- screenshot-controls-preview.png: the canvas while the job's previews are shown;
- screenshot-controls-accepted.png: the canvas after the result was accepted;
- screenshot-controls-generate.png: the Generate tab after a txt2img job with the same controls (the
  history thumbnail shows the control maps inset).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

STEPS = 24


def make_control_models(folder: Path) -> tuple[Path, Path]:
    """A ControlNet folder from studio-mini's UNet and an IP-Adapter file with its image encoder."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    from studio.core.paths import builtin_model_dir
    from tests.engine.control_files import image_encoder_folder, ip_adapter_file

    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_pretrained(str(builtin_model_dir() / "unet"))
    net = ControlNetModel.from_unet(unet)
    with torch.no_grad():
        for name, param in net.named_parameters():
            if "controlnet_down_blocks" in name or "controlnet_mid_block" in name:
                param.normal_(0, 0.02)
    cn = folder / "control_studio-mini_scribble"
    net.save_pretrained(str(cn))
    ip = folder / "ip-adapter_studio-mini.safetensors"
    ip_adapter_file(ip, unet=unet, scale=0.1)
    image_encoder_folder(folder / "image_encoder")
    return cn, ip


def make_pictures(root: Path) -> tuple[np.ndarray, Path]:
    """The canvas picture (a sky over a field) and the IP-Adapter's reference (an orange sun)."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (256, 256), (150, 190, 235))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 170, 256, 256), fill=(90, 150, 70))
    reference = Image.new("RGB", (128, 128), (250, 240, 200))
    ImageDraw.Draw(reference).ellipse((20, 20, 108, 108), fill=(245, 140, 30))
    path = root / "orange-sun.png"
    reference.save(path)
    return np.asarray(picture).copy(), path


def paint_sketch(ws: Any) -> None:
    """A hidden "Sketch" layer: a house outline in black strokes (its alpha is the scribble)."""
    from PIL import Image, ImageDraw

    doc = ws.doc
    sketch = doc.add_layer("Sketch")
    strokes = Image.new("L", doc.size, 0)
    draw = ImageDraw.Draw(strokes)
    draw.rectangle((80, 120, 176, 200), outline=255, width=5)
    draw.line((70, 125, 128, 70, 186, 125), fill=255, width=5)
    draw.rectangle((115, 160, 140, 200), outline=255, width=4)
    rect = (0, 0, *doc.size)
    doc.begin_stroke(sketch)
    doc.stroke_backup(rect)
    sketch.pixels[..., 3] = np.asarray(strokes)  # black strokes: premultiplied colour stays 0
    doc.stroke_touched(rect)
    doc.end_stroke("Sketch")
    doc.set_layer_visible(doc.index_of(sketch), False)


def wait(app: Any, until: Callable[[], bool], seconds: float = 600.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until():
            return True
        time.sleep(0.02)
    return False


def choose(combo: Any, data: str) -> None:
    index = combo.findData(data)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def set_up_canvas(window: Any, dirs: Any, reference: Path, image: np.ndarray) -> Any:
    from studio.app import attach_canvas
    from studio.core.control import ControlKind
    from studio.core.document import Document

    canvas = attach_canvas(window, dirs.autosave)
    assert canvas is not None
    canvas.set_document(Document(image))
    paint_sketch(canvas)
    canvas.prompts.open_file = lambda title, file_filter: str(reference)
    panel = canvas.control_panel
    cn = panel.add_unit(ControlKind.CONTROLNET)
    choose(cn.source, "Sketch")
    choose(cn.preprocessor, "scribble")
    ip = panel.add_unit(ControlKind.IP_ADAPTER)
    ip.source.setCurrentIndex(ip.source.count() - 1)
    ip.source.activated.emit(ip.source.count() - 1)
    ip.weight.setValue(0.8)
    gen = canvas.gen_panel
    gen.prompt.setPlainText("a red house under an orange sun")
    gen.steps.setValue(STEPS)
    gen.random_seed.setChecked(False)
    gen.seed.setValue(11)
    gen.strength.spin.setValue(0.9)
    canvas.doc.set_mask_region((60, 50, 200, 215), np.full((165, 140), 255, np.uint8), "mask")
    window.show_workspace(canvas)
    return canvas


def run_canvas(app: Any, window: Any, canvas: Any, out: Path) -> None:
    previews: list[object] = []
    canvas.generation.preview_changed.connect(lambda rgb, target: previews.append(target))
    assert canvas.inpaint() is not None, canvas.status.text()
    if not wait(app, lambda: len(previews) >= STEPS // 2 or not canvas.generation.busy):
        raise SystemExit("no previews")
    window.grab().save(str(out / "screenshot-controls-preview.png"))
    if not wait(app, lambda: canvas.generation.has_candidates or not canvas.generation.busy):
        raise SystemExit("no result")
    if not canvas.accept_candidate():
        raise SystemExit(f"not accepted: {canvas.status.text()}")
    wait(app, lambda: False, 0.5)
    window.grab().save(str(out / "screenshot-controls-accepted.png"))


def run_generate_tab(app: Any, window: Any, reference: Path, out: Path) -> None:
    from PySide6.QtWidgets import QScrollArea

    from studio.core.control import ControlKind

    window.prompts.open_file = lambda title, file_filter: str(reference)  # type: ignore[method-assign]
    panel = window.control_panel
    ip = panel.add_unit(ControlKind.IP_ADAPTER)
    ip.source.setCurrentIndex(ip.source.count() - 1)
    ip.source.activated.emit(ip.source.count() - 1)
    cn = panel.add_unit(ControlKind.CONTROLNET)
    cn.source.setCurrentIndex(cn.source.count() - 1)
    cn.source.activated.emit(cn.source.count() - 1)
    choose(cn.preprocessor, "canny")
    window.vm.set("prompt", "an orange sun over a field")
    window.vm.set("steps", STEPS)
    window.tabs.setCurrentWidget(window.page)
    count = window.history.count()
    if window.generate() is None:
        raise SystemExit(f"not started: {window.banner.message.text()}")
    if not wait(app, lambda: window.history.count() > count and not window.generation.busy):
        raise SystemExit(f"no result: {window.banner.message.text()}")
    scroll = window.findChild(QScrollArea, "controlsScroll")
    top = panel.mapTo(scroll.widget(), panel.rect().topLeft()).y()
    scroll.verticalScrollBar().setValue(top - 8)  # the Controls panel in view
    wait(app, lambda: False, 0.5)
    window.grab().save(str(out / "screenshot-controls-generate.png"))


def main(out_dir: str) -> int:
    out = Path(out_dir)
    root = Path(tempfile.mkdtemp())
    for var in ("CONFIG", "DATA", "OUTPUT", "LOG", "MODELS"):
        os.environ[f"STUDIO_{var}_DIR"] = str(root / var.lower())
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ["HF_HUB_OFFLINE"] = "1"
    from PySide6.QtWidgets import QApplication

    from studio.core.paths import user_dirs
    from studio.core.presets import PresetStore
    from studio.core.settings import Settings
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    app = QApplication([])
    dirs = user_dirs().ensure()
    dirs.controls.mkdir(parents=True, exist_ok=True)
    make_control_models(dirs.controls)
    image, reference = make_pictures(root)
    (root / "builtin-presets").mkdir()
    apply_theme(app, "dark")

    def engine(publish: Any) -> Any:
        from studio.engine.engine import Engine

        return Engine(publish, device="cpu", precision="fp32", torch_threads=2)

    presets = PresetStore(dirs.presets, root / "builtin-presets")
    window = MainWindow(EngineBridge(engine), Settings(output_dir=str(dirs.output)), presets)
    window.resize(1500, 1040)
    window.show()
    canvas = set_up_canvas(window, dirs, reference, image)
    try:
        run_canvas(app, window, canvas, out)
        run_generate_tab(app, window, reference, out)
    finally:
        window.bridge.shutdown(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
