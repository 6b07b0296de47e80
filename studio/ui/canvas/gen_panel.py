"""The canvas's own generation settings, beside the canvas: what inpaint and outpaint use.

The panel owns the prompt, negative prompt, strength (denoise), batch, seed (or a random one), sampler,
steps and guidance. The model and its add-ons (LoRAs, VAE, clip skip) are shared with the Generate tab
(one model is resident); the panel shows them on a read-only line with a button to change them there.
`request(shared)` is the shared request with this panel's fields written over it: nothing else goes in.
"""

from __future__ import annotations

import random
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.model_prompts import prompt_completions
from studio.core.native_size import native_size
from studio.core.request import MAX_BATCH, MAX_GUIDANCE, MAX_SEED, MAX_STEPS, GenerationRequest
from studio.core.schedulers import SCHEDULER_NAMES
from studio.ui.icons import icon
from studio.ui.widgets.inputs import PromptEdit, SliderSpin, set_quietly
from studio.ui.widgets.prompt_completer import PromptCompleter

BUILTIN_MODEL = "Built-in (studio-mini)"
DEFAULTS = GenerationRequest(strength=0.75)


class CanvasGenPanel(QGroupBox):
    """Prompt, strength, batch, seed, sampler for the canvas's jobs; the shared model on show."""

    changed = Signal()  # any value the artist edits (the app remembers them)
    generate_requested = Signal()  # Ctrl+Enter in a prompt box
    change_model_requested = Signal()  # "Change…" beside the model line
    use_generate_prompt_requested = Signal()  # "From Generate tab" beside the prompt

    def __init__(
        self,
        initial: GenerationRequest | None = None,
        parent: QWidget | None = None,
        *,
        random_seed: bool = True,
    ) -> None:
        super().__init__("Generation", parent)
        self.prompt = PromptEdit("What to paint in the selection… (Ctrl+Enter inpaints)")
        self.prompt.setToolTip("The prompt for inpaint and outpaint on the canvas. Ctrl+Enter inpaints.")
        self.prompt.setFixedHeight(64)
        self.prompt_completer = PromptCompleter(self.prompt)
        self.completions_for: str | None = None  # the model whose names the completer holds
        self.negative = PromptEdit("What to avoid (negative prompt)")
        self.negative.setFixedHeight(44)
        self.from_generate = QPushButton("Use Generate tab prompt")
        self.from_generate.setToolTip("Copy the Generate tab's prompt and negative prompt here")
        self.strength = SliderSpin(
            0.01, 1.0, 0.05, 2, "Denoising strength: how much the painted area may change (1 = ignore it)."
        )
        self.batch = _int_spin(1, MAX_BATCH, "How many results to choose from (seeds count up)")
        self.seed, self.random_seed, self.dice = _seed_widgets()
        self.sampler = QComboBox()
        self.sampler.addItems(list(SCHEDULER_NAMES))
        self.steps = _int_spin(1, MAX_STEPS, "Denoising steps before strength shortens them")
        self.guidance = SliderSpin(0.0, MAX_GUIDANCE, 0.5, 1, "Guidance (CFG scale): 5–9 is typical.")
        self.model_line = QLabel()
        self.model_line.setWordWrap(True)
        self.model_line.setObjectName("canvasModelLine")
        self.change_model = QToolButton()
        self.change_model.setText("Change…")
        self.change_model.setToolTip("The model, LoRAs and VAE are chosen on the Generate tab")
        self.size_line = QLabel()
        self.size_line.setWordWrap(True)
        self.native_side = DEFAULTS.width  # the shared model's side, set by `show_shared`
        self._layout()
        self.set_values(initial or DEFAULTS, random_seed=random_seed)
        self._connect()

    # construction ---------------------------------------------------------------------------------
    def _layout(self) -> None:
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_line, 1)
        model_row.addWidget(self.change_model)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed, 1)
        seed_row.addWidget(self.dice)
        seed_row.addWidget(self.random_seed)
        form = QFormLayout()
        form.addRow("Strength", self.strength)
        form.addRow("Batch", self.batch)
        form.addRow("Seed", seed_row)
        form.addRow("Sampler", self.sampler)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        box = QVBoxLayout(self)
        box.addLayout(model_row)
        box.addWidget(self.prompt)
        box.addWidget(self.negative)
        box.addWidget(self.from_generate)
        box.addLayout(form)
        box.addWidget(self.size_line)

    def _connect(self) -> None:
        for edit in (self.prompt, self.negative):
            edit.text_edited.connect(lambda _t: self.changed.emit())
            edit.submitted.connect(self.generate_requested)
        self.strength.value_changed.connect(lambda _v: self.changed.emit())
        for spin in (self.batch, self.steps):
            spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.seed.valueChanged.connect(lambda _v: self.changed.emit())
        self.guidance.value_changed.connect(lambda _v: self.changed.emit())
        self.sampler.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.random_seed.toggled.connect(self._random_toggled)
        self.dice.clicked.connect(self._roll)
        self.change_model.clicked.connect(self.change_model_requested)
        self.from_generate.clicked.connect(self.use_generate_prompt_requested)

    # values ---------------------------------------------------------------------------------------
    def set_values(self, request: GenerationRequest, *, random_seed: bool = True) -> None:
        """Show `request`'s canvas fields (the remembered ones at start)."""
        self.prompt.set_text_quietly(request.prompt)
        self.negative.set_text_quietly(request.negative_prompt)
        self.strength.set_value_quietly(request.strength)
        set_quietly(self.batch, "setValue", request.batch)
        set_quietly(self.seed, "setValue", request.seed)
        set_quietly(self.sampler, "setCurrentText", request.scheduler)
        set_quietly(self.steps, "setValue", request.steps)
        self.guidance.set_value_quietly(request.guidance)
        set_quietly(self.random_seed, "setChecked", random_seed)
        self.seed.setEnabled(not random_seed)

    def set_prompts(self, prompt: str, negative: str) -> None:
        self.prompt.setPlainText(prompt)
        self.negative.setPlainText(negative)

    def remembered(self) -> GenerationRequest:
        """The panel's fields on a default request (what the app saves in its settings)."""
        return self._apply(GenerationRequest(), self.seed_value())

    def request(self, shared: GenerationRequest) -> GenerationRequest:
        """`shared` (model, LoRAs, VAE, folders, previews) with this panel's fields; a Random seed is
        drawn now and shown in the seed box; the size is the model's native square (generation area)."""
        if self.random_seed.isChecked():
            set_quietly(self.seed, "setValue", random.randint(0, MAX_SEED))
        side = native_size(shared.model)
        return self._apply(shared, self.seed_value()).replace(width=side, height=side)

    def seed_value(self) -> int:
        return int(self.seed.value())

    def _apply(self, request: GenerationRequest, seed: int) -> GenerationRequest:
        return request.replace(
            prompt=self.prompt.toPlainText(),
            negative_prompt=self.negative.toPlainText(),
            strength=round(self.strength.value(), 2),
            batch=self.batch.value(),
            seed=seed,
            scheduler=self.sampler.currentText(),
            steps=self.steps.value(),
            guidance=round(self.guidance.value(), 1),
        )

    # the shared part ------------------------------------------------------------------------------
    def show_shared(self, shared: GenerationRequest) -> None:
        """The model and add-ons the jobs will use (from the Generate tab), and the generation size."""
        self.model_line.setText(describe_shared(shared))
        self.model_line.setToolTip(shared.model or "The built-in model")
        self.native_side = side = native_size(shared.model)
        if shared.model != self.completions_for:
            self.completions_for = shared.model
            self.prompt_completer.set_names(prompt_completions(shared.model))
        self.size_line.setText(f"Generates at {side} × {side} px, the model's native size")

    def _random_toggled(self, on: bool) -> None:
        self.seed.setEnabled(not on)
        self.changed.emit()

    def _roll(self) -> None:
        self.seed.setValue(random.randint(0, MAX_SEED))
        self.random_seed.setChecked(False)


def describe_shared(shared: GenerationRequest) -> str:
    """One line: the model, and the LoRAs, VAE and clip skip when there are any."""
    parts = [f"Model: {Path(shared.model).name if shared.model else BUILTIN_MODEL}"]
    if shared.loras:
        parts.append("LoRAs: " + ", ".join(f"{lora.name} {lora.weight:g}" for lora in shared.loras))
    if shared.vae:
        parts.append(f"VAE: {Path(shared.vae).name}")
    if shared.clip_skip != 1:
        parts.append(f"Clip skip {shared.clip_skip}")
    return " · ".join(parts)


def _int_spin(low: int, high: int, tip: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)
    return spin


def _seed_widgets() -> tuple[QDoubleSpinBox, QCheckBox, QToolButton]:
    seed = QDoubleSpinBox()  # a double holds every 32-bit seed exactly; QSpinBox stops at 2**31
    seed.setDecimals(0)
    seed.setRange(0, MAX_SEED)
    seed.setKeyboardTracking(False)
    seed.setToolTip("The noise seed: the same seed and settings give the same result")
    random_seed = QCheckBox("Random")
    random_seed.setToolTip("A new seed for every job (the one used is shown in the box)")
    dice = QToolButton()
    dice.setIcon(icon("dice"))
    dice.setToolTip("Pick a random seed now and keep it")
    return seed, random_seed, dice
