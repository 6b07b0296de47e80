"""The VAE choice ("Model's own VAE", the VAEs in the VAE folders, "Browse…") and the clip skip spin
box, bound to the view-model's `vae` and `clip_skip`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QSpinBox

from studio.core.request import MAX_CLIP_SKIP
from studio.core.user_files import find_vaes
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.inputs import set_quietly

OWN_VAE = "Model's own VAE"
BROWSE = "Browse…"
_BROWSE_DATA = "\0browse"  # never a path


class VaeChoice:
    """Two widgets: `combo` (the VAE) and `clip_skip`."""

    def __init__(self, vm: RequestViewModel, browse: Callable[[], str | None]) -> None:
        self.vm = vm
        self._browse = browse
        self._found: list[Path] = []
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)  # a long file name never widens the column past its view
        self.combo.setToolTip(
            "The VAE that turns the result into pixels: the model's own, or a VAE file or folder "
            "(from the VAE folders in Settings, or any with Browse…)"
        )
        self.clip_skip = QSpinBox()
        self.clip_skip.setRange(1, MAX_CLIP_SKIP)
        self.clip_skip.setToolTip(
            "Clip skip (as in A1111): 1 uses the text encoder's last layer, 2 the one before "
            "(what many anime models expect)"
        )
        self.combo.activated.connect(self._chosen)
        self.clip_skip.valueChanged.connect(lambda v: vm.set("clip_skip", v))
        vm.vae_changed.connect(lambda _: self.sync())
        vm.clip_skip_changed.connect(lambda v: set_quietly(self.clip_skip, "setValue", v))
        self.sync()

    def set_folders(self, dirs: Iterable[str]) -> None:
        self._found = find_vaes(dirs)
        self.sync()

    def sync(self) -> None:
        """The items (own VAE, the found ones, the chosen one if it is elsewhere, Browse…), the
        view-model's VAE selected; no signal reaches the view-model."""
        vae = self.vm.vae
        combo = self.combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(OWN_VAE, "")
        paths = [str(p) for p in self._found]
        for path in self._found:
            combo.addItem(path.name, str(path))
        if vae and vae not in paths:
            combo.addItem(Path(vae).name, vae)
        combo.addItem(BROWSE, _BROWSE_DATA)
        combo.setCurrentIndex(max(combo.findData(vae), 0))
        combo.blockSignals(False)

    def _chosen(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data == _BROWSE_DATA:
            picked = self._browse()
            if picked:
                self.vm.set("vae", picked)
            self.sync()  # back to the chosen VAE when the dialog was cancelled
            return
        self.vm.set("vae", str(data or ""))
