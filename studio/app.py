"""Composition root: QApplication, settings, logging, Engine (lazily), bridge, MainWindow.

The window is on screen before torch or diffusers are imported: the Engine object is created and its
thread started only after the window is shown (importing `studio.engine.engine` does not import
torch; its worker thread does), and the built-in model then preloads in the background with its
progress in the status bar. The canvas tab is added right after the window is shown, too.

`studio --smoke-exit-after-shown` (or STUDIO_SMOKE_EXIT=1) prints one JSON line with the
launch-to-shown time and whether torch was imported by then, and exits without starting the engine.

At start the canvas offers back the work of crashed sessions ("Restore unsaved work") and temp files
that dead processes left in the config and output folders are removed. Two hooks exist for the
end-to-end tests only (tests/ui/test_crash_restore.py): STUDIO_RESTORE_ANSWER=restore|discard|later
answers the restore dialog without showing it, and STUDIO_TEST_EDIT=1 makes one undoable edit in the
canvas (TEST_EDIT_BOX masked and painted red, a hidden paint layer) that its autosave then writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the real types, imported lazily at run time (the window comes before torch)
    from PySide6.QtWidgets import QApplication, QWidget

    from studio.core.events import Event
    from studio.core.paths import UserDirs
    from studio.core.presets import Preset
    from studio.core.settings import Settings
    from studio.ui.bridge import EngineBridge, EngineFactory, EngineLike
    from studio.ui.canvas.autosave import Restorable
    from studio.ui.canvas.workspace import CanvasWorkspace
    from studio.ui.main_window import MainWindow
    from studio.ui.servers import ServerServices

    SettingsSource = Settings | Callable[[], Settings]

log = logging.getLogger(__name__)
SETTINGS_FILE = "settings.json"
RESTORE_ANSWERS = ("restore", "discard", "later")
TEST_EDIT_BOX = (8, 8, 40, 24)  # x0, y0, x1, y1 of STUDIO_TEST_EDIT's edit


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="studio", description="Studio: a desktop image studio")
    parser.add_argument(
        "--smoke-exit-after-shown",
        action="store_true",
        help="print launch-to-shown time as JSON and exit (launch benchmark)",
    )
    parser.add_argument("--no-preload", action="store_true", help="do not load the built-in model at start")
    parser.add_argument("files", nargs="*", type=Path, help="images to open in the canvas")
    return parser.parse_args(list(argv))


def engine_factory(settings: Settings | Callable[[], Settings]) -> EngineFactory:
    """Builds the engine on first use; the import stays out of the path to the first window.

    `settings` is a settings object or a callable returning the current one (read at each start,
    so a new device/precision, or a switch to or from ComfyUI servers, applies when the engine
    restarts). Jobs run on ComfyUI servers (`studio.remote.engine.RemoteEngine`) when the settings
    say so, else on this computer (`studio.engine.engine.Engine`); nothing else knows which."""

    def create(publish: Callable[[Event], None]) -> EngineLike:
        from studio.core.remote_servers import RUN_COMFYUI

        current = settings() if callable(settings) else settings
        if current.run_on == RUN_COMFYUI and current.comfyui_servers:
            from studio.app_remote import remote_engine

            return remote_engine(publish, current.comfyui_servers)
        from studio.engine.engine import Engine

        threads = os.environ.get("STUDIO_TORCH_THREADS")
        return Engine(
            publish,
            device=str(current.device),
            precision=str(current.precision),
            memory_mode=str(current.memory_mode),
            torch_threads=int(threads) if threads else None,
        )

    return create


def setup_logging(log_dir: Path) -> None:
    from studio.core.errors import setup_logging as core_setup

    core_setup(log_dir)


def load_settings_for(config_dir: Path) -> tuple[Settings, Callable[[Settings], None]]:
    """The settings and their save function; the ComfyUI servers' tokens come from (and go to) their
    own 0600 file beside settings.json, never settings.json itself."""
    import dataclasses

    from studio.core.remote_servers import TOKENS_FILE, load_tokens, save_tokens, with_tokens
    from studio.core.settings import SettingsFile

    session = SettingsFile(config_dir / SETTINGS_FILE)  # saves merge into what other windows wrote
    tokens_path = config_dir / TOKENS_FILE
    loaded = session.load()
    settings = dataclasses.replace(
        loaded, comfyui_servers=with_tokens(loaded.comfyui_servers, load_tokens(tokens_path))
    )

    def save(new: Settings) -> None:
        session.save(new)
        save_tokens(tokens_path, new.comfyui_servers)

    return settings, save


def server_services() -> ServerServices:
    """What the window asks ComfyUI servers (off the GUI thread): a probe and their checkpoints."""
    from studio.app_remote import list_checkpoints, probe_server
    from studio.ui.servers import ServerServices

    return ServerServices(probe=probe_server, models=list_checkpoints)


def build_window(
    app: QApplication,
    dirs: UserDirs,
    factory: Callable[[SettingsSource], EngineFactory] = engine_factory,
    services: ServerServices | None = None,
) -> MainWindow:
    """Settings, theme, preset store, bridge and main window (not shown, engine not started).
    `services`: how the window asks ComfyUI servers (default: studio.remote's client)."""
    from studio.core.paths import resource
    from studio.core.presets import PresetStore
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from studio.ui.theme import apply_theme

    settings, save = load_settings_for(dirs.config)
    apply_theme(app, str(settings.theme))

    def current_settings() -> Settings:  # read when the engine (re)starts: the window's, once it exists
        return window.settings

    bridge = EngineBridge(factory(current_settings))
    store = PresetStore(dirs.presets, resource("presets"))
    window = MainWindow(
        bridge,
        settings,
        store,
        save_settings=save,
        base_request=settings.last_request,
        server_services=services or server_services(),
    )
    app.aboutToQuit.connect(lambda: _on_quit(window, bridge, save))
    return window


def attach_canvas(window: MainWindow, autosave_dir: Path) -> CanvasWorkspace | None:
    """Add the canvas workspace (studio.ui.canvas) as a tab; None if absent."""
    try:
        from studio.ui.canvas.workspace import CanvasWorkspace
    except ImportError:
        log.warning("Canvas workspace not available", exc_info=True)
        return None
    canvas = CanvasWorkspace(  # follows its own jobs; the model and add-ons are the Generate tab's
        window.submit,
        window.workspace_request,
        autosave_dir,
        generation_settings=window.settings.canvas_request,
        random_seed=window.settings.canvas_random_seed,
    )
    index = window.add_workspace(canvas, "Canvas")
    canvas.message.connect(window.show_message)
    canvas.title_changed.connect(lambda title: window.tabs.setTabText(index, title or "Canvas"))
    connect_canvas_panel(window, canvas)

    def open_in_canvas(path: Path) -> None:
        window.show_workspace(canvas)
        canvas.open_file(Path(path))

    window.open_in_canvas_requested.connect(open_in_canvas)
    window.preset_applied.connect(lambda preset: apply_preset_to_canvas(canvas, preset))
    return canvas


def connect_canvas_panel(window: MainWindow, canvas: CanvasWorkspace) -> None:
    """The canvas's generation panel: its values are remembered in the settings (saved on quit), it
    shows the Generate tab's model and add-ons as they change, and its buttons reach the window."""
    import dataclasses

    panel = canvas.gen_panel

    controls = canvas.control_panel  # the canvas's own control units, remembered without images

    def remember() -> None:
        window.settings = dataclasses.replace(
            window.settings,
            canvas_request=panel.remembered().replace(controls=controls.units()),
            canvas_random_seed=panel.random_seed.isChecked(),
        )

    panel.changed.connect(remember)
    if window.settings.canvas_request is not None:
        controls.set_units(window.settings.canvas_request.controls)
    controls.set_models(window.control_models())
    controls.changed.connect(remember)
    window.settings_changed.connect(lambda settings: controls.set_models(window.control_models(settings)))
    panel.change_model_requested.connect(window.show_generate_tab)
    panel.use_generate_prompt_requested.connect(
        lambda: panel.set_prompts(window.vm.prompt, window.vm.negative_prompt)
    )
    for shared in (window.vm.model_changed, window.vm.loras_changed, window.vm.vae_changed):
        shared.connect(lambda _value: canvas.refresh_shared())
    window.vm.clip_skip_changed.connect(lambda _value: canvas.refresh_shared())


def apply_preset_to_canvas(canvas: CanvasWorkspace, preset: Preset) -> None:
    """A preset's canvas fields (inpaint strength) go to the canvas's own controls."""
    strength = preset.fields.get("strength")
    if isinstance(strength, int | float):
        canvas.gen_panel.strength.spin.setValue(float(strength))


def _on_quit(window: MainWindow, bridge: EngineBridge, save: Callable[[Settings], None]) -> None:
    try:
        save(window.remember_request())
    except Exception:
        log.exception("Could not save settings on exit")
    bridge.shutdown(timeout=5.0)


def start_engine(window: MainWindow, preload: bool) -> None:
    try:
        window.bridge.ensure_engine()
        if preload:
            remote = window.runs_remotely()
            window.status.model_label.setText("Connecting…" if remote else "Loading the built-in model…")
            window.bridge.preload(window.vm.model)
    except Exception as exc:
        log.exception("Engine start failed")
        window.banner.show_error(f"The engine could not start: {exc}")


def after_shown(
    window: MainWindow, dirs: UserDirs, preload: bool, files: Sequence[Path] = ()
) -> CanvasWorkspace | None:
    """Work that can wait until the window is on screen: the canvas tab (with the files given on the
    command line, e.g. by the desktop entry's `Exec=studio %F`), then the engine."""
    canvas = prepare_canvas(window, dirs, files)
    start_engine(window, preload)
    return canvas


def prepare_canvas(window: MainWindow, dirs: UserDirs, files: Sequence[Path] = ()) -> CanvasWorkspace | None:
    """Temp files of dead processes removed, the canvas tab, a crashed session's work offered back,
    then the files given on the command line."""
    clean_temp_files(window, dirs)
    canvas = attach_canvas(window, dirs.autosave)
    if canvas is not None:
        offer_crashed_work(window, canvas)
    open_files(window, canvas, files)
    if canvas is not None and os.environ.get("STUDIO_TEST_EDIT") == "1":
        apply_test_edit(canvas)
    return canvas


def clean_temp_files(window: MainWindow, dirs: UserDirs) -> None:
    """Remove the temp files that killed Studio processes left where Studio writes."""
    from studio.core.fileio import clean_stale_temps

    for folder in dict.fromkeys((dirs.config, dirs.presets, dirs.output, window.output_dir())):
        clean_stale_temps(folder)


def offer_crashed_work(window: MainWindow, canvas: CanvasWorkspace) -> bool:
    """Offer the canvas work of crashed sessions back ("Restore unsaved work"); True if restored."""
    from studio.ui.canvas.restore import RestoreChoice, ask_restore, offer_restore

    answer = os.environ.get("STUDIO_RESTORE_ANSWER", "")

    def answered(parent: QWidget, item: Restorable) -> str:  # tests: the dialog is not shown
        return answer

    choose: RestoreChoice = answered if answer in RESTORE_ANSWERS else ask_restore
    restored = offer_restore(canvas, window, choose=choose)
    if restored:
        window.show_workspace(canvas)
    return restored


def apply_test_edit(canvas: CanvasWorkspace) -> None:
    """STUDIO_TEST_EDIT=1 (end-to-end tests only): TEST_EDIT_BOX masked and painted red (an accepted
    result layer), then half-transparent blue painted into the paint layer, which is renamed "Test
    paint" and hidden (the flattened image keeps only the red); each an undoable edit, autosaved by the
    canvas's own timer like any stroke."""
    import numpy as np

    from studio.core.layers import premultiply

    doc = canvas.doc
    x0, y0, x1, y1 = TEST_EDIT_BOX
    image = doc.image.copy()
    image[y0:y1, x0:x1] = (255, 0, 0)
    doc.apply_image(image, "Test edit")
    doc.set_mask_region(TEST_EDIT_BOX, np.full((y1 - y0, x1 - x0), 255, np.uint8), "Test edit")
    paint = doc.layers[1]
    doc.begin_stroke(paint)
    doc.stroke_backup(TEST_EDIT_BOX)
    paint.pixels[y0:y1, x0:x1] = premultiply(np.array([[[0, 0, 255, 128]]], np.uint8))
    doc.stroke_touched(TEST_EDIT_BOX)
    doc.end_stroke("Test edit")
    doc.rename_layer(1, "Test paint")
    doc.set_layer_visible(1, False)


def open_files(window: MainWindow, canvas: CanvasWorkspace | None, files: Sequence[Path]) -> None:
    """Open each file in the canvas; a file that cannot be read gets the canvas's own message."""
    if canvas is None:
        return
    for path in files:
        window.open_in_canvas_requested.emit(path)


def smoke_report(t0: float, canvas: CanvasWorkspace | None = None) -> None:
    report: dict[str, object] = {
        "shown_ms": round((time.perf_counter() - t0) * 1000, 1),
        "torch_loaded": "torch" in sys.modules,
        "diffusers_loaded": "diffusers" in sys.modules,
    }
    if canvas is not None:
        report["canvas_path"] = str(canvas.doc.path) if canvas.doc.path else None
        report["canvas_size"] = list(canvas.doc.size)
        report["canvas_dirty"] = canvas.doc.dirty
        report["canvas_image_sha256"] = hashlib.sha256(canvas.doc.image.tobytes()).hexdigest()
        report["canvas_mask_sha256"] = hashlib.sha256(canvas.doc.mask.tobytes()).hexdigest()
        report["canvas_autosave"] = str(canvas.autosave.folder)
        report["canvas_layers"] = [
            [x.name, x.visible, x.opacity, hashlib.sha256(x.pixels.tobytes()).hexdigest()]
            for x in canvas.doc.layers
        ]
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    t0 = time.perf_counter()
    args = parse_args(sys.argv[1:] if argv is None else argv)
    smoke = args.smoke_exit_after_shown or os.environ.get("STUDIO_SMOKE_EXIT") == "1"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.core.paths import user_dirs

    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication([sys.argv[0] if sys.argv else "studio"])
    )
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    dirs = user_dirs().ensure()
    setup_logging(dirs.logs)
    window = build_window(app, dirs)
    window.show()
    if smoke:  # report, then build the rest as a normal start would (checks it works), then quit

        def smoke() -> None:
            smoke_report(t0)
            canvas = prepare_canvas(window, dirs, args.files)
            smoke_report(t0, canvas)
            app.exit(0)  # not quit(): that closes the window, which asks about unsaved (restored) work

        QTimer.singleShot(0, smoke)
    else:
        QTimer.singleShot(0, lambda: after_shown(window, dirs, not args.no_preload, args.files))
        log.info("Window shown after %.0f ms", (time.perf_counter() - t0) * 1000)
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
