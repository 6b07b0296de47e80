"""The Generate tab's "Hires fix" group, bound to the view-model's `hires` (a `HiresOptions`).

A checkable group: on, the image is generated at W × H, upscaled by the factor with the chosen
upscaler and denoised again (hires steps, denoising strength). It applies to text to image only: with
an init image the group is disabled and says so. The upscaler list holds the built-in latent and pixel
upscalers, then the model upscalers found in the upscaler folders (`set_upscalers`); a model name read
from an image's parameters that is not among them is listed as "(not found)" so that nothing is lost."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox

from studio.core.request import HIRES_UPSCALERS, MAX_HIRES_SCALE, MAX_STEPS, HiresOptions
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.inputs import SliderSpin, set_quietly

TXT2IMG_ONLY = "The hires fix applies to text to image: remove the init image to use it."


class HiresPanel(QGroupBox):
    def __init__(self, vm: RequestViewModel) -> None:
        super().__init__("Hires fix")
        self.vm = vm
        self.setCheckable(True)
        self.setToolTip(
            "Two passes: generate at W × H, upscale, then denoise again at the larger size "
            "(A1111's hires fix): more detail than generating large directly"
        )
        self.scale = QDoubleSpinBox()
        self.scale.setRange(1.0, MAX_HIRES_SCALE)
        self.scale.setSingleStep(0.25)
        self.scale.setDecimals(2)
        self.scale.setKeyboardTracking(False)
        self.scale.setToolTip("Upscale factor: the result is W × H times this (sides multiples of 8)")
        self.final_size = QLabel()
        self.final_size.setObjectName("hiresFinalSize")
        self.upscaler = QComboBox()
        self._models: list[str] = []
        self._fill_upscalers()
        self.upscaler.setToolTip(
            "Latent: resize the first pass's latents (needs denoising ≥ 0.5); Lanczos / Nearest: "
            "resize the decoded picture; the others are model upscalers (ESRGAN, …) from the upscaler "
            "folders (Settings)"
        )
        self.steps = QSpinBox()
        self.steps.setRange(0, MAX_STEPS)
        self.steps.setSpecialValueText("Same as Steps")
        self.steps.setToolTip("Steps of the second pass (0: the same as Steps); denoising shortens them")
        self.denoise = SliderSpin(
            0.0, 1.0, 0.05, 2, "Denoising strength of the second pass: low keeps the first pass, high redraws"
        )
        form = QFormLayout(self)
        form.addRow("Upscale", self.scale)
        form.addRow("Result", self.final_size)
        form.addRow("Upscaler", self.upscaler)
        form.addRow("Hires steps", self.steps)
        form.addRow("Denoising", self.denoise)
        self._bind()
        self.sync()

    def _bind(self) -> None:
        self.toggled.connect(lambda on: self._edit(enabled=on))
        self.scale.valueChanged.connect(lambda v: self._edit(scale=float(v)))
        self.upscaler.currentIndexChanged.connect(self._upscaler_chosen)
        self.steps.valueChanged.connect(lambda v: self._edit(steps=int(v)))
        self.denoise.value_changed.connect(lambda v: self._edit(denoise=float(v)))
        self.vm.hires_changed.connect(lambda _: self.sync())
        self.vm.width_changed.connect(lambda _: self._show_size())
        self.vm.height_changed.connect(lambda _: self._show_size())
        self.vm.init_image_changed.connect(lambda _: self._show_mode())

    def set_upscalers(self, paths: Iterable[Path]) -> None:
        """The model upscalers on offer (file stems, as A1111 names them), after the built-in ones."""
        self._models = [path.stem for path in paths]
        self._fill_upscalers()

    def _fill_upscalers(self) -> None:
        chosen = self.vm.hires.upscaler
        names = [*HIRES_UPSCALERS, *self._models]
        if chosen not in names:
            names.append(chosen)
        self.upscaler.blockSignals(True)  # the view-model -> widget direction: no edit is signalled
        try:
            self.upscaler.clear()
            for name in names:
                missing = name not in HIRES_UPSCALERS and name not in self._models
                self.upscaler.addItem(f"{name} (not found)" if missing else name, name)
            self.upscaler.setCurrentIndex(names.index(chosen))
        finally:
            self.upscaler.blockSignals(False)

    def _upscaler_chosen(self, index: int) -> None:
        name = self.upscaler.itemData(index)
        if isinstance(name, str):
            self._edit(upscaler=name)

    def _edit(self, **changes: object) -> None:
        self.vm.set("hires", dataclasses.replace(self.vm.hires, **changes))  # type: ignore[arg-type]

    def sync(self) -> None:
        """The widgets from the view-model's options, without signalling back."""
        hires: HiresOptions = self.vm.hires
        self.setChecked(hires.enabled)  # not blocked: the group enables its rows on `toggled`
        set_quietly(self.scale, "setValue", hires.scale)
        self._fill_upscalers()
        set_quietly(self.steps, "setValue", hires.steps)
        self.denoise.set_value_quietly(hires.denoise)
        self._show_size()
        self._show_mode()

    def _show_size(self) -> None:
        width, height = self.vm.hires.size(self.vm.width, self.vm.height)
        self.final_size.setText(f"{width} × {height}")

    def _show_mode(self) -> None:
        txt2img = self.vm.init_image is None
        self.setEnabled(txt2img)
        self.setTitle("Hires fix" if txt2img else "Hires fix (text to image only)")
        self.final_size.setToolTip("" if txt2img else TXT2IMG_ONLY)
