"""The Generate tab's few-step hint: when the chosen model or a chosen LoRA is an LCM / TCD / Lightning /
Hyper / Turbo distillation (`core.few_step`), a one-click "Use 4 steps, LCM, CFG 1.5" offer.

Nothing changes until the button is clicked; the hint hides itself when the settings already match,
and "×" dismisses it for that model or LoRA."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QToolButton, QVBoxLayout

from studio.core.few_step import FewStepSuggestion, first_suggestion
from studio.ui.viewmodel import RequestViewModel

LoraFiles = Callable[[], Mapping[str, Path]]  # LoRA name (stem) -> its file


class FewStepHint(QFrame):
    def __init__(self, vm: RequestViewModel, lora_files: LoraFiles | None = None) -> None:
        super().__init__()
        self.setObjectName("fewStepHint")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.vm = vm
        self._lora_files = lora_files or dict
        self.suggestion: FewStepSuggestion | None = None
        self._names: tuple[str, ...] | None = None  # the model and LoRA files `suggestion` is for
        self._dismissed: set[str] = set()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.apply_button = QPushButton()
        self.apply_button.setObjectName("fewStepApply")
        self.apply_button.clicked.connect(self.apply)
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("×")
        self.dismiss_button.setToolTip("Hide this suggestion for this model or LoRA")
        self.dismiss_button.clicked.connect(self.dismiss)
        # the reason on a line of its own, the hint's full width (beside the button a long file name
        # wrapped into a narrow column), the offer and "×" under it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.message)
        row = QHBoxLayout()
        row.addWidget(self.apply_button)
        row.addStretch(1)
        row.addWidget(self.dismiss_button)
        layout.addLayout(row)
        for signal in (
            vm.model_changed,
            vm.loras_changed,
            vm.steps_changed,
            vm.scheduler_changed,
            vm.guidance_changed,
        ):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        """Look again at the model and LoRAs; show the offer when it would change something."""
        files = self._lora_files()
        names = (self.vm.model, *(str(files.get(lora.name, lora.name)) for lora in self.vm.loras))
        new_files = names != self._names
        if new_files:  # a steps / sampler / CFG change reads no file again
            self._names = names
            self.suggestion = first_suggestion(list(names))
        found = self.suggestion
        if found is None or found.source in self._dismissed or self._matches(found):
            self.setVisible(False)
            return
        self.message.setText(found.reason)
        self.apply_button.setText(found.label)
        self.apply_button.setToolTip(
            f"Sets the sampler to {found.scheduler}, {found.steps} steps and CFG {found.guidance:g}"
        )
        self.setVisible(True)
        if new_files:
            QTimer.singleShot(0, self._scroll_into_view)

    def _scroll_into_view(self) -> None:
        """A new offer is scrolled into view: it sits in the Sampling group, below the fold when the
        artist adds a LoRA further up, and an offer nobody sees helps nobody."""
        area = self.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None and self.isVisible():
            area.ensureWidgetVisible(self, 0, 8)

    def apply(self) -> None:
        """Set the suggested sampler, steps and CFG (the artist clicked)."""
        found = self.suggestion
        if found is None:
            return
        self.vm.set("scheduler", found.scheduler)
        self.vm.set("steps", found.steps)
        self.vm.set("guidance", found.guidance)
        self.refresh()

    def dismiss(self) -> None:
        if self.suggestion is not None:
            self._dismissed.add(self.suggestion.source)
        self.refresh()

    def _matches(self, found: FewStepSuggestion) -> bool:
        vm = self.vm
        return vm.scheduler == found.scheduler and vm.steps == found.steps and vm.guidance == found.guidance
