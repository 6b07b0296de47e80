"""The active styles as chips under the prompt box ("Style: Photo look ✕"), bound to the view-model,
and the "Prompts that work" menu for models that ship a list (the built-in one)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

from studio.core.model_prompts import prompts_that_work
from studio.core.styles import Style
from studio.ui.icons import icon
from studio.ui.viewmodel import RequestViewModel


class StyleChips(QWidget):
    """One chip per active style; its ✕ removes the style (the prompt box is never touched)."""

    def __init__(self, vm: RequestViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(4)
        self.chips: list[QWidget] = []
        self.row.addStretch(1)
        vm.styles_changed.connect(self.show_styles)
        self.show_styles(vm.styles)

    def show_styles(self, styles: tuple[Style, ...]) -> None:
        for chip in self.chips:
            self.row.removeWidget(chip)
            chip.deleteLater()
        self.chips = [self._chip(style) for style in styles]
        for index, chip in enumerate(self.chips):
            self.row.insertWidget(index, chip)
        self.setVisible(bool(styles))

    def names(self) -> list[str]:
        return [s.name for s in self.vm.styles]

    def _chip(self, style: Style) -> QWidget:
        chip = QWidget()
        chip.setObjectName("styleChip")
        lay = QHBoxLayout(chip)
        lay.setContentsMargins(6, 1, 1, 1)
        lay.setSpacing(2)
        label = QLabel(f"Style: {style.name}")
        texts = [
            t for t in (style.prompt, style.negative_prompt and f"negative: {style.negative_prompt}") if t
        ]
        label.setToolTip("Applied when generating (the prompt box keeps your text):\n" + "\n".join(texts))
        remove = QToolButton()
        remove.setObjectName("styleChipRemove")
        remove.setIcon(icon("close"))
        remove.setAutoRaise(True)
        remove.setToolTip(f"Remove the style {style.name}")
        remove.clicked.connect(lambda _=False, name=style.name: self.vm.remove_style(name))
        lay.addWidget(label)
        lay.addWidget(remove)
        return chip


class PromptIdeasButton(QToolButton):
    """ "Prompts that work" for the selected model: shown only when the model has a list."""

    def __init__(self, vm: RequestViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.setText("Prompts that work")
        self.setToolTip(
            "The built-in model (studio-mini) draws 128 px emoji in six styles: these prompts give "
            "recognisable images"
        )
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.setMenu(self.menu_)
        self.menu_.triggered.connect(lambda action: self.choose(str(action.data())))
        vm.model_changed.connect(self.show_for)
        self.show_for(vm.model)

    def show_for(self, ref: str) -> None:
        self.menu_.clear()
        prompts = prompts_that_work(ref)
        for prompt in prompts:
            action = self.menu_.addAction(prompt)
            action.setData(prompt)
        self.setVisible(bool(prompts))

    def choose(self, prompt: str) -> None:
        self.vm.set("prompt", prompt)

    def prompts(self) -> list[str]:
        return [a.text() for a in self.menu_.actions()]
