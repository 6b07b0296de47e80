"""The Generate tab with the LoRA panel, offscreen, into a PNG (not a test):

    python -m tests.ui.screenshot_loras docs/screenshot-loras.png

Fresh STUDIO_* folders with dummy LoRA, embedding and VAE files; a window without an engine."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def main(out: str) -> int:
    root = Path(tempfile.mkdtemp())
    for var in ("CONFIG", "DATA", "OUTPUT", "LOG", "MODELS"):
        os.environ[f"STUDIO_{var}_DIR"] = str(root / var.lower())
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    from studio.core.paths import user_dirs
    from studio.core.presets import PresetStore
    from studio.core.settings import Settings
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    app = QApplication([])
    dirs = user_dirs().ensure()
    files = {dirs.loras: ("detail-tweaker", "ink-style"), dirs.embeddings: ("easynegative", "bad-hands")}
    for folder, names in {**files, dirs.vae: ("vae-ft-mse-840000",)}.items():
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / f"{name}.safetensors").write_bytes(b"dummy")
    (root / "builtin-presets").mkdir()
    apply_theme(app, "dark")
    presets = PresetStore(dirs.presets, root / "builtin-presets")
    window = MainWindow(EngineBridge(lambda publish: None), Settings(output_dir=str(dirs.output)), presets)
    window.resize(1400, 1000)
    window.show()
    vm = window.vm
    vm.set("prompt", "a lighthouse on a cliff at dusk, easynegative")
    vm.add_lora("detail-tweaker", 0.6)
    vm.add_lora("ink-style", 1.25)
    vm.set("clip_skip", 2)
    vm.set("vae", str(dirs.vae / "vae-ft-mse-840000.safetensors"))
    for _ in range(5):
        app.processEvents()
    return 0 if window.grab().save(out) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
