"""The main window: a central QTabWidget ("Generate" + workspaces such as the canvas), menus, status bar.

API for other parts (canvas, bench): `submit(request) -> QtJob` (that job's signals on the GUI thread),
`bridge` (EngineBridge: every event as typed signals, for app-wide listeners), `add_workspace(widget,
title)`, and the `open_in_canvas_requested(Path)` signal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import QHBoxLayout, QMainWindow, QMenu, QPushButton, QTabWidget, QToolButton, QWidget

from studio.core.events import Failed, ModelReady
from studio.core.native_size import native_size
from studio.core.paths import user_dirs
from studio.core.presets import Preset, PresetStore
from studio.core.remote_servers import RUN_COMFYUI, where_jobs_run
from studio.core.request import GenerationRequest, PreviewKind
from studio.core.settings import Settings, control_folders, upscaler_folders, user_folders
from studio.core.styles import style_of, without_style
from studio.core.user_files import find_control_models, find_upscalers
from studio.ui.bridge import EngineBridge, QtJob
from studio.ui.dialogs.prompts import IMAGE_FILTER, MODEL_FILTER, Prompts
from studio.ui.dialogs.settings_dialog import SettingsDialog
from studio.ui.dialogs.shortcuts_dialog import ShortcutsDialog
from studio.ui.generation import GenerateTabController
from studio.ui.history_actions import HistoryActions
from studio.ui.icons import icon
from studio.ui.layout import GenerateTab, build_status_bar
from studio.ui.results import recent_images
from studio.ui.servers import ServerModelList, ServerServices
from studio.ui.theme import apply_theme
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.control_panel import ControlPanel, bind_view_model
from studio.ui.widgets.controls import ControlsPanel
from studio.ui.widgets.init_image import InitImageSlot
from studio.ui.widgets.lora_panel import OwnFilesPanel
from studio.ui.widgets.model_picker import ModelPicker, discover_models
from studio.ui.widgets.presets_panel import PresetsPanel

log = logging.getLogger(__name__)
VAE_FILTER = "VAE files (*.safetensors);;All files (*)"


@runtime_checkable
class ClosableWorkspace(Protocol):
    """A workspace with unsaved work: asked before the window closes (the canvas)."""

    def maybe_close(self) -> bool: ...


@runtime_checkable
class WorkspaceWithShortcuts(Protocol):
    """A workspace listing its own shortcuts [(keys, action)] in the shortcuts dialog."""

    def shortcuts(self) -> list[tuple[str, str]]: ...


class MainWindow(QMainWindow):
    open_in_canvas_requested = Signal(object)  # pathlib.Path of an image to open in the canvas
    preset_applied = Signal(object)  # the Preset: workspaces take the fields they have (canvas strength)
    settings_changed = Signal(object)  # the new settings object
    shown = Signal()

    def __init__(
        self,
        bridge: EngineBridge,
        settings: Settings,
        preset_store: PresetStore,
        *,
        save_settings: Callable[[Settings], None] | None = None,
        base_request: GenerationRequest | None = None,
        server_services: ServerServices | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("Studio")
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self.bridge = bridge
        self.settings = settings
        self._save_settings = save_settings
        self._restart_pending = False  # a device/precision change waits for the running jobs
        self._prompts: Prompts = Prompts(self)
        self.vm = RequestViewModel(base_request or GenerationRequest(), self)
        self.vm.set_native_size(native_size(self.vm.model))  # the size follows the model from the start
        self._build(preset_store)
        self.server_services = server_services  # ComfyUI servers: probes and model lists (app.py's)
        self._model_by_place: dict[str, str] = {}  # run_on -> the model last chosen there
        self.server_models = (
            None
            if server_services is None
            else ServerModelList(
                self.model_picker,
                server_services,
                lambda: self.vm.model,
                lambda m: self.vm.set("model", m),
                self,
            )
        )
        self._apply_settings_to_request(settings)
        self._build_menus()
        self.refresh_models()
        self.history.add_recent(recent_images(self.output_dir()))
        problems = list(settings.problems)
        if problems:
            self.banner.show_error(problems[0], "\n".join(problems))

    @property
    def prompts(self) -> Prompts:
        """Where questions to the artist go (dialogs; tests put canned answers here)."""
        return self._prompts

    @prompts.setter
    def prompts(self, prompts: Prompts) -> None:
        self._prompts = prompts
        self.presets_panel.prompts = prompts

    # -- public API -------------------------------------------------------------------------------
    def submit(self, request: GenerationRequest) -> QtJob:
        """Submit any request to the engine (for the canvas and tools); its events arrive on the job."""
        return self.bridge.submit(request)

    def add_workspace(self, widget: QWidget, title: str) -> int:
        """Add a tab next to "Generate" (the canvas); returns its index. `title` also heads the
        workspace's shortcuts in Help → Keyboard shortcuts (the tab's text may change: a file name)."""
        widget.setProperty("workspace_name", title)
        return self.tabs.addTab(widget, title)

    def workspace_request(self) -> GenerationRequest:
        """The Generate tab's settings shared with another workspace (model, LoRAs, VAE, clip skip,
        folders, previews); the workspace sets its own prompts, seed, sampler and strength."""
        return self.generation.shared_request()

    def show_generate_tab(self) -> None:
        """The Generate tab, with the model picker focused (the canvas's "Change…" model button)."""
        self.tabs.setCurrentWidget(self.page)
        self.model_picker.combo.setFocus()

    def show_workspace(self, widget: QWidget) -> None:
        self.tabs.setCurrentWidget(widget)

    def generate(self) -> QtJob | None:
        return self.generation.generate()

    def cancel(self) -> None:
        self.generation.cancel()

    def output_dir(self) -> Path:
        """The settings' output folder ("" = the default user output folder)."""
        return Path(self.settings.output_dir) if str(self.settings.output_dir or "") else user_dirs().output

    # -- construction -----------------------------------------------------------------------------
    def _build(self, preset_store: PresetStore) -> None:
        self.model_picker = ModelPicker(
            lambda: self.prompts.open_file("Open model file", MODEL_FILTER),
            lambda: self.prompts.open_folder("Open a diffusers model folder"),
        )
        self.init_slot = InitImageSlot(lambda: self.prompts.open_file("Init image", IMAGE_FILTER))
        self.own_files = OwnFilesPanel(
            self.vm, lambda: self.prompts.open_file("Choose a VAE file", VAE_FILTER)
        )
        self.control_panel = ControlPanel(
            lambda title, filt: self.prompts.open_file(title, filt),
            lambda title: self.prompts.open_folder(title),
        )
        bind_view_model(self.control_panel, self.vm)
        self.controls = ControlsPanel(
            self.vm, self.model_picker, self.init_slot, self.own_files, self.control_panel
        )
        self.controls.generate_requested.connect(self.generate)
        self.presets_panel = PresetsPanel(preset_store, self.prompts, self.vm.request)
        self.presets_panel.apply_requested.connect(self._apply_preset)
        self.generate_button = QPushButton(icon("generate"), "  Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Generate an image with these settings (Ctrl+Enter)")
        self.generate_button.clicked.connect(self.generate)
        self.page = GenerateTab(self.controls, self.presets_panel, self.generate_button)
        self.preview, self.progress = self.page.preview, self.page.progress
        self.banner, self.history = self.page.banner, self.page.history
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.page, "Generate")
        self.tabs.setCornerWidget(self._corner_buttons(), Qt.Corner.TopRightCorner)
        self.setCentralWidget(self.tabs)
        self.status = build_status_bar(self)
        self.generation = GenerateTabController(
            self.bridge,
            self.vm,
            (self.preview, self.progress, self.banner, self.history),
            self.output_dir,
            self,
        )
        self.generation.attach_queue_panel(self.page.queue)
        self.generation.busy_changed.connect(self._show_busy)
        self.generation.status_message.connect(self.show_message)
        self.history_actions = HistoryActions(self.vm, self.history, self.preview, lambda: self.prompts, self)
        self.history_actions.open_in_canvas_requested.connect(self.open_in_canvas_requested)
        self.history_actions.upscale_requested.connect(self.generation.submit_request)
        self.history_actions.upscaler_names = lambda: [
            p.stem for p in find_upscalers(self.generation.upscaler_dirs)
        ]
        self.history_actions.status_message.connect(self.show_message)
        self.history_actions.notes_found.connect(lambda text: self.banner.show_warning(text))
        self.init_slot.load_failed.connect(lambda msg: self.banner.show_error(msg))
        self.progress.preview_kind_selected.connect(lambda kind: self.vm.set("preview", kind))
        self.progress.preview_kind_selected.connect(self.generation.set_preview_kind)  # the running job too
        self.vm.preview_changed.connect(self.progress.set_preview_kind)
        self.bridge.loading.connect(self.status.on_loading)
        self.bridge.model_ready.connect(self.status.on_model_ready)
        self.bridge.started.connect(self.status.on_started)
        self.bridge.failed.connect(self._on_any_failure)
        for ended in (self.bridge.finished, self.bridge.cancelled, self.bridge.failed):
            ended.connect(self._restart_when_idle)
        self.vm.model_changed.connect(lambda ref: self.vm.set_native_size(native_size(ref)))
        self.vm.model_changed.connect(self._preload_selected)
        self.bridge.model_ready.connect(self._on_model_ready)

    def _show_busy(self, busy: bool) -> None:
        """While a job runs, Generate adds to the queue."""
        self.generate_button.setText("  Add to queue" if busy else "  Generate")
        self.generate_button.setToolTip(
            "Queue another image with these settings (Ctrl+Enter)"
            if busy
            else "Generate an image with these settings (Ctrl+Enter)"
        )

    def _on_model_ready(self, event: ModelReady) -> None:
        """The loaded model knows its native size (single files): use it unless a size was typed."""
        if event.native_size and event.ref == self.vm.model:
            self.vm.set_native_size(event.native_size, only_if_unedited=True)

    def _corner_buttons(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 6, 0)
        for name, tip, slot in (
            ("help", "Keyboard shortcuts (F1)", self.show_shortcuts),
            ("settings", "Settings (Ctrl+,)", self.show_settings),
        ):
            button = QToolButton()
            button.setIcon(icon(name))
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, s=slot: s())
            row.addWidget(button)
        return box

    def _preload_selected(self, ref: str) -> None:
        """Load a newly picked model in the background once the engine runs (faster first image)."""
        if self.bridge.engine is not None:
            self.bridge.preload(ref)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self._action(file_menu, "Open model file…", lambda: self._open_model(self.model_picker.open_file))
        self._action(file_menu, "Open model folder…", lambda: self._open_model(self.model_picker.open_folder))
        self._action(file_menu, "Load parameters from PNG…", self._load_parameters_from_png)
        file_menu.addSeparator()
        self._action(file_menu, "Settings…", self.show_settings, "Ctrl+,", "settings")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        gen = bar.addMenu("&Generate")
        # Generate-tab shortcuts work while the Generate tab has focus, so workspaces (the canvas)
        # can use the same keys without ambiguity.
        page = self.page
        self.generate_action = self._action(gen, "Generate", self.generate, "Ctrl+Return", "generate", page)
        self._action(gen, "Cancel", self.cancel, "Esc", "cancel", page)
        self._action(gen, "Reuse last seed", self.vm.reuse_last_seed, "Ctrl+Shift+R", "reuse", page)
        toggle = lambda: self.vm.set("randomize_seed", not self.vm.randomize_seed)  # noqa: E731
        self._action(gen, "Toggle random seed", toggle, "Ctrl+R", "dice", page)
        self._action(gen, "Copy shown image", self._copy_shown, "Ctrl+Shift+C", "copy", page)
        presets_menu = self.presets_panel.build_menu(self)
        bar.addMenu(presets_menu)
        save = presets_menu.findChild(QAction, "preset_save")
        if save is not None:
            save.setShortcut(QKeySequence("Ctrl+S"))
            save.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            page.addAction(save)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_shortcuts, "F1", "help")

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        keys: str | QKeySequence | QKeySequence.StandardKey | None = None,
        icon_name: str = "",
        scope: QWidget | None = None,
    ) -> QAction:
        """A menu action; its shortcut works in the whole window, or only inside `scope`."""
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            context = (
                Qt.ShortcutContext.WidgetWithChildrenShortcut if scope else Qt.ShortcutContext.WindowShortcut
            )
            action.setShortcutContext(context)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        (scope or self).addAction(action)
        return action

    # -- settings, presets, models ----------------------------------------------------------------
    def _apply_settings_to_request(self, settings: Settings) -> None:
        interval = settings.preview_interval
        remote = settings.comfyui_servers if settings.run_on == RUN_COMFYUI else ()
        self.status.show_where(where_jobs_run(settings.run_on, remote), remote)
        self.generation.preview_interval = interval
        self.vm.set("preview", _preview_kind(settings.preview_kind))
        self.progress.set_previews_enabled(interval > 0 and self.vm.preview is not PreviewKind.NONE)
        self.refresh_own_files(settings)

    def refresh_own_files(self, settings: Settings | None = None) -> None:
        """The LoRA, embedding, VAE and control model folders: listed in the panels and sent with every
        request, as is the IP-Adapter image encoder folder."""
        settings = settings or self.settings
        loras, embeddings, vaes = user_folders(settings, user_dirs())
        self.generation.lora_dirs, self.generation.embedding_dirs = loras, embeddings
        self.generation.ip_image_encoder = str(settings.ip_image_encoder)
        self.own_files.set_folders(loras, embeddings, vaes)
        self.control_panel.set_models(self.control_models(settings))
        self.generation.upscaler_dirs = upscaler_folders(settings, user_dirs())
        self.controls.hires.set_upscalers(find_upscalers(self.generation.upscaler_dirs))

    def control_models(self, settings: Settings | None = None) -> list[Path]:
        """The control models in the control model folders (the canvas's Controls panel offers them too)."""
        return find_control_models(control_folders(settings or self.settings, user_dirs()))

    def apply_settings(self, settings: Settings) -> None:
        old = self.settings
        self.settings = settings
        self._apply_settings_to_request(settings)
        app = QGuiApplication.instance()
        if app is not None:
            apply_theme(app, str(settings.theme))  # type: ignore[arg-type]
        if old.run_on != settings.run_on:  # a local model is no server checkpoint, nor the reverse:
            self._model_by_place[old.run_on] = self.vm.model  # each side's choice comes back with it
            self.vm.set("model", self._model_by_place.get(settings.run_on, ""))
        self.refresh_models()
        if self._save_settings is not None:
            try:
                self._save_settings(settings)
            except OSError as exc:
                self.banner.show_error(f"Settings could not be saved: {exc}")
        if str(old.output_dir) != str(settings.output_dir):
            self.history.add_recent(recent_images(self.output_dir()))
        if _engine_settings(old) != _engine_settings(settings):
            self._restart_engine()
        self.settings_changed.emit(settings)

    def _restart_engine(self) -> None:
        """New device/precision: stop the idle engine; the next job or preload starts it with them."""
        if self.bridge.engine is None:
            return
        if self.bridge.busy:  # any job (the canvas's too): stopping the engine would cancel it
            self._restart_pending = True
            self.show_message("Device and precision apply when the current generation ends.")
            return
        self._restart_pending = False
        self.bridge.shutdown(timeout=10.0)
        self.bridge.preload(self.vm.model)

    def _restart_when_idle(self, _event: object) -> None:
        """A device/precision change waiting for the jobs to end applies once none is left (after the
        event is handled: the Generate tab may submit its next queued job first)."""
        if self._restart_pending:
            QTimer.singleShot(0, self._restart_if_idle)

    def _restart_if_idle(self) -> None:
        if self._restart_pending and not self.bridge.busy:
            self._restart_engine()

    def show_settings(self) -> SettingsDialog:
        probe = self.server_services.probe if self.server_services is not None else None
        dialog = SettingsDialog(self.settings, self.prompts, self, probe_server=probe)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        dialog.open()
        return dialog

    def show_shortcuts(self) -> ShortcutsDialog:
        """Shortcuts of the window, plus each workspace's `shortcuts()` [(keys, action)] if it has one."""
        extra: list[tuple[str, str]] = []
        for index in range(1, self.tabs.count()):
            workspace = self.tabs.widget(index)
            if isinstance(workspace, WorkspaceWithShortcuts):
                title = str(workspace.property("workspace_name") or self.tabs.tabText(index))
                extra += [(keys, f"{title}: {action}") for keys, action in workspace.shortcuts()]
        dialog = ShortcutsDialog(extra, parent=self)
        dialog.open()
        return dialog

    def _open_model(self, open_it: Callable[[], None]) -> None:
        """File → Open model…: a server cannot load a file from this computer, so say what to do."""
        if self.model_picker.local:
            open_it()
        else:
            self.show_message(
                "Jobs run on ComfyUI servers: choose one of their checkpoints in the model list."
            )

    def runs_remotely(self) -> bool:
        """Whether jobs run on ComfyUI servers (their checkpoints in the model picker)."""
        return self.settings.run_on == RUN_COMFYUI and bool(self.settings.comfyui_servers)

    def refresh_models(self) -> None:
        if self.server_models is not None and self.runs_remotely():
            self.server_models.refresh(self.settings.comfyui_servers)
            return
        if self.server_models is not None:
            self.server_models.forget()
        dirs = [Path(d) for d in self.settings.model_dirs] + [user_dirs().models]
        self.model_picker.set_entries(discover_models(dirs))

    def _apply_preset(self, preset: Preset) -> None:
        """Apply a preset's settings; its prompt texts become the active style (applied when
        generating, not pasted into the prompt box), and workspaces take their fields."""
        notes: list[str] = []
        self.vm.set_request(without_style(preset).apply_to(self.vm.request(), notes), keep_seed_mode=True)
        style = style_of(preset)
        if style is not None:
            self.vm.add_style(style)
        if "seed" in preset.fields:
            self.vm.set("randomize_seed", False)
        self.preset_applied.emit(preset)
        self.show_message(f"Preset applied: {preset.name}" + (f" ({'; '.join(notes)})" if notes else ""))

    def _on_any_failure(self, event: Failed) -> None:
        if event.job_id == 0:  # a preload failed: no job shows it, so the banner does
            self.banner.show_error(event.message, event.detail)
        self.status.on_failed(event)

    # -- misc -------------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _copy_shown(self) -> None:
        if not self.preview.image().isNull():
            QGuiApplication.clipboard().setImage(self.preview.image())

    def _load_parameters_from_png(self) -> None:
        path = self.prompts.open_file("Load parameters from PNG", "PNG images (*.png)")
        if path:
            self.history_actions.offer_dropped(Path(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt name)
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and urls[0].toLocalFile().lower().endswith(".png"):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt name)
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.history_actions.offer_dropped(Path(urls[0].toLocalFile()))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.shown.emit()

    def remember_request(self) -> Settings:
        """The settings with the current request fields (saved on close)."""
        return dataclasses.replace(self.settings, last_request=self.vm.request().replace(init_image=None))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        """Ask each workspace with unsaved work (a `maybe_close()` method) before closing."""
        for index in range(1, self.tabs.count()):
            workspace = self.tabs.widget(index)
            if isinstance(workspace, ClosableWorkspace) and not workspace.maybe_close():
                event.ignore()
                return
        self.generation.saver.wait()  # results still being written
        self.history.shutdown()
        super().closeEvent(event)


def _engine_settings(settings: Settings) -> tuple[object, ...]:
    """The settings the engine is built with: a change restarts it (app.py's factory reads them)."""
    return (
        settings.device,
        settings.precision,
        settings.memory_mode,
        settings.run_on,
        settings.comfyui_servers,  # tokens included
    )


def _preview_kind(value: object) -> PreviewKind:
    """The settings' preview kind (stored as its text) as the request's enum; x0 if unknown."""
    try:
        return PreviewKind(value)
    except ValueError:
        return PreviewKind.X0
