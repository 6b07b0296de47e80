"""The Generate tab's control column, bound to a `RequestViewModel`.

Every widget edit calls the view-model's setter; every `*_changed` signal syncs the widget back
with its signals blocked, so there is no feedback loop.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.model_prompts import prompt_completions
from studio.core.request import MAX_BATCH, MAX_GUIDANCE, MAX_SEED, MAX_STEPS
from studio.core.schedulers import SCHEDULER_NAMES
from studio.ui.icons import icon
from studio.ui.viewmodel import MAX_SIDE_UI, MIN_SIDE_UI, RequestViewModel
from studio.ui.widgets.few_step_hint import FewStepHint
from studio.ui.widgets.hires_panel import HiresPanel
from studio.ui.widgets.init_image import InitImageSlot
from studio.ui.widgets.inputs import Multiple8SpinBox, PromptEdit, SliderSpin, set_quietly
from studio.ui.widgets.lora_panel import OwnFilesPanel
from studio.ui.widgets.model_picker import ModelPicker
from studio.ui.widgets.prompt_completer import PromptCompleter
from studio.ui.widgets.style_chips import PromptIdeasButton, StyleChips

ASPECTS: tuple[tuple[str, float], ...] = (
    ("1:1", 1.0),
    ("4:3", 4 / 3),
    ("3:4", 3 / 4),
    ("3:2", 3 / 2),
    ("2:3", 2 / 3),
    ("16:9", 16 / 9),
    ("9:16", 9 / 16),
    ("21:9", 21 / 9),
)


def size_for_aspect(ratio: float, area: int) -> tuple[int, int]:
    """Width and height (multiples of 8, within the UI limits) with `ratio` and about `area` pixels."""
    height = math.sqrt(area / ratio)
    width = height * ratio

    def snap(v: float) -> int:
        return int(min(max(round(v / 8) * 8, MIN_SIDE_UI), MAX_SIDE_UI))

    return snap(width), snap(height)


class ControlsPanel(QWidget):
    generate_requested = Signal()

    def __init__(
        self,
        vm: RequestViewModel,
        model_picker: ModelPicker,
        init_slot: InitImageSlot,
        own_files: OwnFilesPanel | None = None,
        control_panel: QWidget | None = None,
    ) -> None:
        super().__init__()
        self.vm = vm
        self.model_picker = model_picker
        self.init_slot = init_slot
        self.own_files = own_files
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(10)
        layout.addWidget(self._model_group())
        layout.addWidget(self._prompt_group())
        if own_files is not None:
            layout.addWidget(own_files)
            own_files.embeddings.insert_requested.connect(self.insert_in_prompt)
        if control_panel is not None:  # ControlNet / T2I-Adapter / IP-Adapter units
            layout.addWidget(control_panel)
        layout.addWidget(self._sampling_group())
        layout.addWidget(self._size_group())
        self.hires = HiresPanel(vm)
        layout.addWidget(self.hires)
        layout.addWidget(self._seed_group())
        layout.addWidget(self._img2img_group())
        layout.addStretch(1)
        self._bind()
        self.sync_all()

    # -- construction -----------------------------------------------------------------------------
    def _model_group(self) -> QGroupBox:
        box = QGroupBox("Model")
        QVBoxLayout(box).addWidget(self.model_picker)
        return box

    def _prompt_group(self) -> QGroupBox:
        box = QGroupBox("Prompt")
        self.prompt = PromptEdit("Describe the image… (Ctrl+Enter to generate)")
        self.prompt.setToolTip("What to paint. Ctrl+Enter generates.")
        self.prompt.setMinimumHeight(90)
        self.prompt_completer = PromptCompleter(self.prompt)
        self.prompt_completer.set_names(prompt_completions(self.vm.model))
        self.vm.model_changed.connect(lambda ref: self.prompt_completer.set_names(prompt_completions(ref)))
        self.negative = PromptEdit("What to avoid (negative prompt)")
        self.negative.setToolTip("Things the image should not contain. Ctrl+Enter generates.")
        self.negative.setFixedHeight(58)
        self.style_chips = StyleChips(self.vm)
        self.prompt_ideas = PromptIdeasButton(self.vm)
        lay = QVBoxLayout(box)
        lay.addWidget(self.prompt_ideas)
        lay.addWidget(self.prompt)
        lay.addWidget(self.negative)
        lay.addWidget(self.style_chips)
        return box

    def _sampling_group(self) -> QGroupBox:
        box = QGroupBox("Sampling")
        self.scheduler = QComboBox()
        self.scheduler.addItems(list(SCHEDULER_NAMES))
        self.scheduler.setToolTip(
            "Sampler (scheduler). DPM++ 2M Karras is a good default; "
            "Euler a gives more variety; LCM needs an LCM model."
        )
        self.steps = QSpinBox()
        self.steps.setRange(1, MAX_STEPS)
        self.steps.setKeyboardTracking(False)
        self.steps.setToolTip(f"Denoising steps (1–{MAX_STEPS}). 20–30 is typical; more is slower.")
        self.guidance = SliderSpin(
            0.0,
            MAX_GUIDANCE,
            0.5,
            1,
            "Guidance (CFG scale): how strictly to follow the prompt. 5–9 is typical.",
        )
        self.few_step = FewStepHint(self.vm, lambda: self.own_files.loras.found if self.own_files else {})
        form = QFormLayout(box)
        form.addRow(self.few_step)
        form.addRow("Sampler", self.scheduler)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        return box

    def _size_group(self) -> QGroupBox:
        box = QGroupBox("Size")
        self.aspect = QComboBox()
        self.aspect.addItem("Custom", None)
        for label, ratio in ASPECTS:
            self.aspect.addItem(label, ratio)
        self.aspect.setToolTip("Common aspect ratios: keeps about the same number of pixels.")
        self.swap = QToolButton()
        self.swap.setIcon(icon("swap"))
        self.swap.setToolTip("Swap width and height")
        self.width_spin = Multiple8SpinBox(MIN_SIDE_UI, MAX_SIDE_UI, "Image width in pixels (multiple of 8)")
        self.height_spin = Multiple8SpinBox(
            MIN_SIDE_UI, MAX_SIDE_UI, "Image height in pixels (multiple of 8)"
        )
        self.batch = QSpinBox()
        self.batch.setRange(1, MAX_BATCH)
        self.batch.setToolTip(
            f"How many images to make at once (1–{MAX_BATCH}); seeds count up from the seed."
        )
        row = QHBoxLayout()
        row.addWidget(self.width_spin)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_spin)
        row.addWidget(self.swap)
        form = QFormLayout(box)
        form.addRow("Aspect", self.aspect)
        form.addRow("W × H", row)
        form.addRow("Batch", self.batch)
        return box

    def _seed_group(self) -> QGroupBox:
        box = QGroupBox("Seed")
        self.seed = QDoubleSpinBox()  # a double holds every 32-bit seed exactly; QSpinBox stops at 2**31
        self.seed.setDecimals(0)
        self.seed.setRange(0, MAX_SEED)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("The noise seed: the same seed and settings give the same image.")
        self.randomize = QCheckBox("Random")
        self.randomize.setToolTip("Draw a new random seed for every generation")
        self.reuse_last = QToolButton()
        self.reuse_last.setIcon(icon("reuse"))
        self.reuse_last.setToolTip("Reuse the seed of the last generation")
        self.reuse_last.setEnabled(False)
        self.dice = QToolButton()
        self.dice.setIcon(icon("dice"))
        self.dice.setToolTip("Pick a random seed now")
        row = QHBoxLayout(box)
        row.addWidget(self.seed, 1)
        row.addWidget(self.dice)
        row.addWidget(self.reuse_last)
        row.addWidget(self.randomize)
        return box

    def _img2img_group(self) -> QGroupBox:
        box = QGroupBox("Image to image")
        self.strength = SliderSpin(
            0.0, 1.0, 0.05, 2, "Denoising strength: 0 keeps the init image, 1 ignores it. 0.5–0.8 is typical."
        )
        form = QFormLayout(box)
        form.addRow(self.init_slot)
        form.addRow("Strength", self.strength)
        return box

    # -- binding ----------------------------------------------------------------------------------
    def _bind(self) -> None:
        vm = self.vm
        self.prompt.text_edited.connect(lambda t: vm.set("prompt", t))
        self.negative.text_edited.connect(lambda t: vm.set("negative_prompt", t))
        self.prompt.submitted.connect(self.generate_requested)
        self.negative.submitted.connect(self.generate_requested)
        self.scheduler.currentTextChanged.connect(lambda t: vm.set("scheduler", t))
        self.steps.valueChanged.connect(lambda v: vm.set("steps", v))
        self.guidance.value_changed.connect(lambda v: vm.set("guidance", v))
        self.width_spin.valueChanged.connect(lambda v: self._size_edited("width", v))
        self.height_spin.valueChanged.connect(lambda v: self._size_edited("height", v))
        self.swap.clicked.connect(self._swap)
        self.aspect.activated.connect(self._aspect_chosen)
        self.batch.valueChanged.connect(lambda v: vm.set("batch", v))
        self.seed.valueChanged.connect(lambda v: vm.set("seed", v))
        self.randomize.toggled.connect(lambda on: vm.set("randomize_seed", on))
        self.reuse_last.clicked.connect(vm.reuse_last_seed)
        self.dice.clicked.connect(self._roll)
        self.strength.value_changed.connect(lambda v: vm.set("strength", v))
        self.model_picker.model_selected.connect(lambda ref: vm.set("model", ref))
        self.init_slot.image_chosen.connect(lambda img: vm.set("init_image", img))

        vm.prompt_changed.connect(self.prompt.set_text_quietly)
        vm.negative_prompt_changed.connect(self.negative.set_text_quietly)
        vm.scheduler_changed.connect(lambda t: set_quietly(self.scheduler, "setCurrentText", t))
        vm.steps_changed.connect(lambda v: set_quietly(self.steps, "setValue", v))
        vm.guidance_changed.connect(self.guidance.set_value_quietly)
        vm.width_changed.connect(lambda v: self._sync_size())
        vm.height_changed.connect(lambda v: self._sync_size())
        vm.batch_changed.connect(lambda v: set_quietly(self.batch, "setValue", v))
        vm.seed_changed.connect(lambda v: set_quietly(self.seed, "setValue", v))
        vm.randomize_seed_changed.connect(self._sync_randomize)
        vm.last_seed_changed.connect(lambda s: self.reuse_last.setEnabled(True))
        vm.strength_changed.connect(self.strength.set_value_quietly)
        vm.model_changed.connect(self.model_picker.set_ref)
        vm.init_image_changed.connect(self._sync_init_image)

    def sync_all(self) -> None:
        vm = self.vm
        self.prompt.set_text_quietly(vm.prompt)
        self.negative.set_text_quietly(vm.negative_prompt)
        set_quietly(self.scheduler, "setCurrentText", vm.scheduler)
        set_quietly(self.steps, "setValue", vm.steps)
        self.guidance.set_value_quietly(vm.guidance)
        self._sync_size()
        set_quietly(self.batch, "setValue", vm.batch)
        set_quietly(self.seed, "setValue", vm.seed)
        self._sync_randomize(vm.randomize_seed)
        self.strength.set_value_quietly(vm.strength)
        self.model_picker.set_ref(vm.model)
        self._sync_init_image(vm.init_image)
        if self.own_files is not None:
            self.own_files.sync_all()

    def insert_in_prompt(self, word: str) -> None:
        """Put `word` (an embedding's name) in the prompt at the cursor, as a word of its own."""
        cursor = self.prompt.textCursor()
        text = self.prompt.toPlainText()
        at = cursor.position()
        before = " " if at > 0 and not text[at - 1].isspace() else ""
        after = " " if at < len(text) and not text[at].isspace() else ""
        cursor.insertText(f"{before}{word}{after}")  # the edit reaches the view-model as typing does
        self.prompt.setTextCursor(cursor)

    def _sync_size(self) -> None:
        set_quietly(self.width_spin, "setValue", self.vm.width)
        set_quietly(self.height_spin, "setValue", self.vm.height)
        ratio = self.vm.width / self.vm.height
        index = next(
            (i for i in range(1, self.aspect.count()) if abs(self.aspect.itemData(i) - ratio) < 0.02), 0
        )
        set_quietly(self.aspect, "setCurrentIndex", index)

    def _sync_randomize(self, on: bool) -> None:
        set_quietly(self.randomize, "setChecked", on)
        self.seed.setEnabled(not on)

    def _sync_init_image(self, image: object) -> None:
        self.init_slot.show_image(image)  # type: ignore[arg-type]
        self.strength.setEnabled(image is not None)

    def _size_edited(self, name: str, value: int) -> None:
        self.vm.set(name, value)
        self._sync_size()  # show the snapped value

    def _swap(self) -> None:
        width, height = self.vm.width, self.vm.height
        self.vm.set("width", height)
        self.vm.set("height", width)

    def _aspect_chosen(self, index: int) -> None:
        ratio = self.aspect.itemData(index)
        if ratio is None:
            return
        width, height = size_for_aspect(float(ratio), self.vm.width * self.vm.height)
        self.vm.set("width", width)
        self.vm.set("height", height)

    def _roll(self) -> None:
        import random

        self.vm.set("seed", random.randint(0, MAX_SEED))
        self.vm.set("randomize_seed", False)
