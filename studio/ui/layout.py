"""Layout of the Generate tab and the status bar (model loading progress)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.events import Failed, Loading, ModelReady, Started
from studio.core.remote_servers import RemoteServer
from studio.ui.widgets.banner import ErrorBanner
from studio.ui.widgets.history import HistoryStrip
from studio.ui.widgets.image_view import ImageView
from studio.ui.widgets.progress_panel import ProgressPanel, format_seconds
from studio.ui.widgets.queue_panel import QueuePanel

LEFT_WIDTH = 370


class GenerateTab(QWidget):
    """Left: presets, controls (scrollable), Generate button. Right: banner, preview, progress, the
    job queue, history."""

    def __init__(self, controls: QWidget, presets: QWidget, generate_button: QPushButton) -> None:
        super().__init__()
        self.preview = ImageView()
        self.progress = ProgressPanel()
        self.banner = ErrorBanner()
        self.history = HistoryStrip()
        self.queue = QueuePanel()
        controls.setObjectName("controlsPanel")
        scroll = QScrollArea()
        scroll.setObjectName("controlsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(controls)
        left = QWidget()
        left.setObjectName("controlsPanel")
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 8, 0, 10)
        left_layout.setSpacing(6)
        presets_box = QWidget()
        presets_layout = QVBoxLayout(presets_box)
        presets_layout.setContentsMargins(10, 0, 10, 0)
        title = QLabel("PRESET")
        title.setObjectName("dimLabel")
        presets_layout.addWidget(title)
        presets_layout.addWidget(presets)
        left_layout.addWidget(presets_box)
        left_layout.addWidget(scroll, 1)
        button_box = QWidget()
        button_layout = QVBoxLayout(button_box)
        button_layout.setContentsMargins(10, 0, 10, 0)
        button_layout.addWidget(generate_button)
        left_layout.addWidget(button_box)
        left.setMinimumWidth(LEFT_WIDTH - 40)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(8, 8, 8, 0)
        right_layout.setSpacing(4)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.preview, 1)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.queue)
        right_layout.addWidget(self.history)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([LEFT_WIDTH, 1000])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)


class StatusArea(QObject):
    """Model loading progress and engine state in the status bar."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        bar = window.statusBar()
        self.where_label = QLabel("This computer")  # where jobs run: this computer or ComfyUI servers
        self.where_label.setObjectName("dimLabel")
        self.model_label = QLabel("Engine not started")
        self.model_label.setToolTip("The model in memory")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setFixedWidth(120)
        self.busy.setFixedHeight(8)
        self.busy.setTextVisible(False)
        self.busy.setVisible(False)
        self._loading: str | None = None  # the model a Loading named, until ModelReady or Started
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.where_label)
        bar.addPermanentWidget(self.model_label)

    def show_where(self, text: str, servers: Sequence[RemoteServer] = ()) -> None:
        """Where jobs run ("This computer", "ComfyUI: host:port (+1)"); every server in the tooltip."""
        self.where_label.setText(text)
        self.where_label.setToolTip(
            "\n".join(s.url for s in servers) if servers else "Jobs run on this computer"
        )

    def on_loading(self, event: Loading) -> None:
        self._loading = event.model
        self.busy.setVisible(True)
        self.model_label.setText(event.message or f"Loading {Path(event.model).name or 'built-in model'}…")

    def on_model_ready(self, event: ModelReady) -> None:
        self._loading = None
        self.busy.setVisible(False)
        name = Path(event.model).name or "studio-mini"
        text = f"{name} · {event.device} · {event.dtype.removeprefix('torch.')}"
        if event.memory_mode not in ("", "full"):  # a GPU memory mode that costs speed: say so
            text += f" · {event.memory_mode.replace('_', ' ')}"
        self.model_label.setText(text)
        self.model_label.setToolTip(f"Loaded in {format_seconds(event.seconds)}")

    def on_started(self, _event: Started) -> None:
        """A job runs: a load that no ModelReady ended (a ComfyUI server loads its own checkpoint)
        is over, and the label names the model."""
        if self._loading is not None:
            self.busy.setVisible(False)
            self.model_label.setText(Path(self._loading).name or "studio-mini")
            self._loading = None

    def on_failed(self, event: Failed) -> None:
        self.busy.setVisible(False)
        if event.job_id == 0:
            self.model_label.setText("Model not loaded")


def build_status_bar(window: QMainWindow) -> StatusArea:
    return StatusArea(window)
