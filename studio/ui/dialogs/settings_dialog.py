"""Settings dialog, in three tabs so that it fits a 1366x768 screen with OK and Cancel on it:
"General" (device and precision, GPU memory, preview kind and interval, output folder, theme),
"Folders" (model folders, control model folders, the IP-Adapter image encoder, upscalers) and
"Run jobs on" (this computer or ComfyUI servers)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.paths import user_dirs
from studio.core.remote_servers import RemoteServer
from studio.core.request import MAX_STEPS
from studio.core.settings import Settings
from studio.ui.dialogs.prompts import Prompts
from studio.ui.dialogs.servers_section import ServersSection

DEVICES = (("Automatic", "auto"), ("CPU", "cpu"), ("NVIDIA GPU (CUDA)", "cuda"), ("Apple GPU (MPS)", "mps"))
PRECISIONS = (("Automatic", "auto"), ("32-bit float", "fp32"), ("16-bit float", "fp16"), ("bfloat16", "bf16"))
PREVIEW_KINDS = (("Predicted image (x0)", "x0"), ("Noisy latent (x_t)", "latent"), ("Off", "none"))
MEMORY_MODES = (
    ("Automatic (from the free GPU memory)", "auto"),
    ("Everything on the GPU", "full"),
    ("VAE tiling", "vae"),
    ("Model CPU offload", "model_offload"),
    ("Sequential CPU offload (slowest)", "sequential"),
)
THEMES = (("Follow the system", "system"), ("Dark", "dark"), ("Light", "light"))


def _page(form: QFormLayout) -> QWidget:
    """A tab's page: the form at the top."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addLayout(form)
    layout.addStretch(1)
    return page


def _combo(items: tuple[tuple[str, str], ...], value: str, tip: str) -> QComboBox:
    combo = QComboBox()
    for label, data in items:
        combo.addItem(label, data)
    combo.setCurrentIndex(max(0, combo.findData(str(value))))
    combo.setToolTip(tip)
    return combo


def _folder_list(folders: Iterable[object], tip: str, max_height: int = 80) -> QListWidget:
    """An editable list of folders (the buttons under it: `SettingsDialog._folder_buttons`)."""
    widget = QListWidget()
    widget.setToolTip(tip)
    widget.setMaximumHeight(max_height)
    widget.addItems([str(d) for d in folders])
    return widget


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        prompts: Prompts,
        parent: QWidget | None = None,
        probe_server: Callable[[RemoteServer], str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(620)
        self._settings = settings
        self._prompts = prompts
        self.servers = ServersSection(settings.run_on, settings.comfyui_servers, probe_server)
        self.device = _combo(
            DEVICES, settings.device, "Where the model runs. Automatic picks a GPU when there is one."
        )
        self.precision = _combo(
            PRECISIONS,
            settings.precision,
            "Number format for the model. Automatic: 16-bit on GPUs, 32-bit on CPU.",
        )
        self.memory_mode = _combo(
            MEMORY_MODES,
            settings.memory_mode,
            "NVIDIA GPUs only: how much of the model stays on the GPU. Lower modes fit larger images "
            "in less memory but run slower; Automatic chooses from the free memory at each image.",
        )
        self.preview_kind = _combo(
            PREVIEW_KINDS,
            settings.preview_kind,
            "What the live preview shows while the image is denoised",
        )
        self.preview_interval = QSpinBox()
        self.preview_interval.setRange(0, MAX_STEPS)
        self.preview_interval.setValue(int(settings.preview_interval))
        self.preview_interval.setSpecialValueText("Off")
        self.preview_interval.setSuffix(" steps")
        self.preview_interval.setToolTip("A preview every N steps; 0 turns previews off (slightly faster)")
        self.output_dir = QLineEdit(str(settings.output_dir))
        self.output_dir.setToolTip("Where every result is saved as a PNG with its parameters")
        self.output_dir.setPlaceholderText(f"Default: {user_dirs().output}")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_output)
        self.model_dirs = _folder_list(
            settings.model_dirs, "Folders searched for models (.safetensors, .ckpt, diffusers folders)", 100
        )
        self.control_dirs = _folder_list(
            settings.control_dirs,
            "More folders searched for ControlNet, T2I-Adapter and IP-Adapter models (after the user "
            f"data folder's {user_dirs().controls.name}/ folder)",
        )
        self.upscaler_dirs = _folder_list(
            settings.upscaler_dirs,
            "More folders searched for model upscalers (ESRGAN, SwinIR, …: .pth / .safetensors), after the "
            f"user data folder's {user_dirs().upscalers.name}/ folder",
        )
        self.ip_image_encoder = QLineEdit(str(settings.ip_image_encoder))
        self.ip_image_encoder.setToolTip(
            "The CLIP image encoder folder IP-Adapters use (h94/IP-Adapter's models/image_encoder)"
        )
        self.ip_image_encoder.setPlaceholderText("Default: an image_encoder folder beside the adapter")
        self.theme = _combo(THEMES, settings.theme, "Colour theme; dark unless the system is light")
        self._layout(browse)
        self._local_tips: dict[QComboBox, str] = {}
        self.servers.remote.toggled.connect(self._local_engine_rows)
        self._local_engine_rows(self.servers.remote.isChecked())

    def _local_engine_rows(self, remote: bool) -> None:
        """Device, precision and GPU memory are this computer's: not used while servers run the jobs."""
        for combo in (self.device, self.precision, self.memory_mode):
            combo.setEnabled(not remote)
            base = self._local_tips.setdefault(combo, combo.toolTip())
            combo.setToolTip(f"{base}\n\nNot used while jobs run on ComfyUI servers." if remote else base)

    def _layout(self, browse: QPushButton) -> None:
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_dir, 1)
        output_row.addWidget(browse)
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.setToolTip("Add a model folder")
        remove.setToolTip("Remove the selected model folder")
        add.clicked.connect(self._add_model_dir)
        remove.clicked.connect(lambda: self.model_dirs.takeItem(self.model_dirs.currentRow()))
        dir_buttons = QHBoxLayout()
        dir_buttons.addWidget(add)
        dir_buttons.addWidget(remove)
        dir_buttons.addStretch(1)
        general = QFormLayout()
        general.addRow("Device", self.device)
        general.addRow("Precision", self.precision)
        general.addRow("GPU memory", self.memory_mode)
        note = QLabel(
            "A new device, precision or GPU memory mode reloads the model when no image is being made."
        )
        note.setObjectName("dimLabel")
        note.setWordWrap(True)
        general.addRow("", note)
        general.addRow("Preview", self.preview_kind)
        general.addRow("Preview every", self.preview_interval)
        general.addRow("Output folder", output_row)
        general.addRow("Theme", self.theme)
        folders = QFormLayout()
        folders.addRow("Model folders", self.model_dirs)
        folders.addRow("", dir_buttons)
        folders.addRow("Control models", self.control_dirs)
        folders.addRow("", self._folder_buttons(self.control_dirs, "control model folder"))
        folders.addRow("IP-Adapter image encoder", self._encoder_row())
        folders.addRow("Upscalers", self.upscaler_dirs)
        folders.addRow("", self._folder_buttons(self.upscaler_dirs, "folder of upscalers"))
        self.tabs = QTabWidget()
        self.tabs.addTab(_page(general), "General")
        self.tabs.addTab(_page(folders), "Folders")
        self.servers.setTitle("")  # the tab names it
        self.tabs.addTab(self.servers, "Run jobs on")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)

    def accept(self) -> None:
        """Only with a usable server list (otherwise its tab is shown, saying what is wrong)."""
        if self.servers.check():
            super().accept()
        else:
            self.tabs.setCurrentWidget(self.servers)

    def _folder_buttons(self, folders: QListWidget, what: str) -> QHBoxLayout:
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.setToolTip(f"Add a {what}")
        remove.setToolTip(f"Remove the selected {what}")
        add.clicked.connect(lambda: self._add_folder(folders, f"Add a {what}"))
        remove.clicked.connect(lambda: folders.takeItem(folders.currentRow()))
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        return row

    def _add_folder(self, folders: QListWidget, title: str) -> None:
        folder = self._prompts.open_folder(title)
        if folder:
            folders.addItem(folder)

    def _encoder_row(self) -> QHBoxLayout:
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_encoder)
        row = QHBoxLayout()
        row.addWidget(self.ip_image_encoder, 1)
        row.addWidget(browse)
        return row

    def _browse_encoder(self) -> None:
        folder = self._prompts.open_folder("IP-Adapter image encoder folder")
        if folder:
            self.ip_image_encoder.setText(folder)

    def _browse_output(self) -> None:
        folder = self._prompts.open_folder("Output folder")
        if folder:
            self.output_dir.setText(folder)

    def _add_model_dir(self) -> None:
        folder = self._prompts.open_folder("Add a model folder")
        if folder:
            self.model_dirs.addItem(folder)

    def result_settings(self) -> Settings:
        """A new settings object with the dialog's values."""
        return dataclasses.replace(
            self._settings,
            device=str(self.device.currentData()),
            precision=str(self.precision.currentData()),
            memory_mode=str(self.memory_mode.currentData()),
            preview_kind=str(self.preview_kind.currentData()),
            preview_interval=self.preview_interval.value(),
            output_dir=self.output_dir.text().strip(),
            model_dirs=tuple(self.model_dirs.item(i).text() for i in range(self.model_dirs.count())),
            control_dirs=tuple(self.control_dirs.item(i).text() for i in range(self.control_dirs.count())),
            ip_image_encoder=self.ip_image_encoder.text().strip(),
            upscaler_dirs=tuple(self.upscaler_dirs.item(i).text() for i in range(self.upscaler_dirs.count())),
            theme=str(self.theme.currentData()),
            run_on=self.servers.run_on(),
            comfyui_servers=self.servers.servers(),
        )
