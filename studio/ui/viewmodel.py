"""The Generate tab's view-model: the request fields, each with a `<field>_changed` signal.

Widgets bind to it (widget edit -> setter; `*_changed` -> widget, with signals blocked while syncing
back). `request()` builds the frozen `GenerationRequest` the engine receives.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Generic, TypeVar, cast, overload

from PySide6.QtCore import QObject, Signal

from studio.core.control import ControlUnit
from studio.core.request import (
    MAX_BATCH,
    MAX_CLIP_SKIP,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    GenerationRequest,
    HiresOptions,
    LoraRef,
    Mode,
    PreviewKind,
    round_to_multiple_of_8,
)
from studio.core.styles import Style, apply_styles

if TYPE_CHECKING:
    from PIL import Image

MIN_SIDE_UI, MAX_SIDE_UI = 64, 2048

# field -> (kind, low, high); kind is the Python type the field holds
_FIELDS: dict[str, tuple[type, float | None, float | None]] = {
    "prompt": (str, None, None),
    "negative_prompt": (str, None, None),
    "model": (str, None, None),
    "steps": (int, 1, MAX_STEPS),
    "guidance": (float, 0.0, MAX_GUIDANCE),
    "scheduler": (str, None, None),
    "seed": (int, 0, MAX_SEED),
    "randomize_seed": (bool, None, None),
    "width": (int, MIN_SIDE_UI, MAX_SIDE_UI),
    "height": (int, MIN_SIDE_UI, MAX_SIDE_UI),
    "batch": (int, 1, MAX_BATCH),
    "strength": (float, 0.0, 1.0),
    "preview": (PreviewKind, None, None),
    "preview_interval": (int, 1, MAX_STEPS),
    "loras": (tuple, None, None),  # tuple[LoraRef, ...], in the order they were added
    "vae": (str, None, None),
    "clip_skip": (int, 1, MAX_CLIP_SKIP),
    # tuple[ControlUnit, ...] without images (`image_name` names the source): the Controls panel adds
    # the images when a job is submitted (`GenerateTabController.control_images`)
    "controls": (tuple, None, None),
    "hires": (object, None, None),  # HiresOptions (the "Hires fix" group; txt2img only)
    "init_image": (object, None, None),
}

REQUEST_FIELDS = tuple(f for f in _FIELDS if f not in ("randomize_seed", "init_image"))

T = TypeVar("T")


class _Field(Generic[T]):
    """A field read as an attribute, typed: `vm.steps` is `vm.get("steps")` (set it with `vm.set`)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, vm: None, owner: type) -> _Field[T]: ...
    @overload
    def __get__(self, vm: RequestViewModel, owner: type) -> T: ...
    def __get__(self, vm: RequestViewModel | None, owner: type) -> _Field[T] | T:
        if vm is None:
            return self
        return cast(T, vm.get(self.name))


class RequestViewModel(QObject):
    prompt_changed = Signal(str)
    negative_prompt_changed = Signal(str)
    model_changed = Signal(str)
    steps_changed = Signal(int)
    guidance_changed = Signal(float)
    scheduler_changed = Signal(str)
    seed_changed = Signal(object)  # int; Signal(int) would overflow above 2**31
    randomize_seed_changed = Signal(bool)
    width_changed = Signal(int)
    height_changed = Signal(int)
    batch_changed = Signal(int)
    strength_changed = Signal(float)
    preview_changed = Signal(object)
    preview_interval_changed = Signal(int)
    loras_changed = Signal(object)  # tuple[LoraRef, ...]
    vae_changed = Signal(str)
    clip_skip_changed = Signal(int)
    controls_changed = Signal(object)  # tuple[ControlUnit, ...]
    hires_changed = Signal(object)  # HiresOptions
    init_image_changed = Signal(object)  # PIL image or None
    last_seed_changed = Signal(object)
    styles_changed = Signal(object)  # tuple[Style, ...]: the active styles, applied at generation
    changed = Signal()  # any field

    prompt: _Field[str] = _Field()
    negative_prompt: _Field[str] = _Field()
    model: _Field[str] = _Field()
    steps: _Field[int] = _Field()
    guidance: _Field[float] = _Field()
    scheduler: _Field[str] = _Field()
    seed: _Field[int] = _Field()
    randomize_seed: _Field[bool] = _Field()
    width: _Field[int] = _Field()
    height: _Field[int] = _Field()
    batch: _Field[int] = _Field()
    strength: _Field[float] = _Field()
    preview: _Field[PreviewKind] = _Field()
    preview_interval: _Field[int] = _Field()
    loras: _Field[tuple[LoraRef, ...]] = _Field()
    vae: _Field[str] = _Field()
    clip_skip: _Field[int] = _Field()
    controls: _Field[tuple[ControlUnit, ...]] = _Field()
    hires: _Field[HiresOptions] = _Field()
    init_image: _Field[Image.Image | None] = _Field()

    def __init__(self, base: GenerationRequest | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        base = base or GenerationRequest()
        self._values: dict[str, object] = {name: getattr(base, name, None) for name in _FIELDS}
        self._values["randomize_seed"] = True
        self._values["init_image"] = base.init_image
        self.last_seed: int | None = None
        self.styles: tuple[Style, ...] = ()  # applied to the prompts by `styled_request`
        self._auto_size: tuple[int, int] | None = None  # the size set for the model, until edited

    # -- generic access ---------------------------------------------------------------------------
    def get(self, name: str) -> object:
        return self._values[name]

    def set(self, name: str, value: object) -> None:
        value = self._coerce(name, value)
        if name != "init_image" and self._values[name] == value:
            return
        if name == "init_image" and self._values[name] is value:
            return
        self._values[name] = value
        getattr(self, f"{name}_changed").emit(value)
        self.changed.emit()

    @staticmethod
    def _coerce(name: str, value: object) -> object:
        kind, low, high = _FIELDS[name]
        if kind is object:
            return value
        if kind is PreviewKind:
            return PreviewKind(value)
        coerced = kind(value)
        if name in ("width", "height"):
            coerced = round_to_multiple_of_8(int(coerced))
        if low is not None and high is not None:
            coerced = min(max(coerced, kind(low)), kind(high))
        return coerced

    # -- request in / out -------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return Mode.IMG2IMG if self._values["init_image"] is not None else Mode.TXT2IMG

    def request(self, *, seed: int | None = None) -> GenerationRequest:
        """The request as the widgets show it; `seed` overrides (used for a randomised seed)."""
        fields = {name: self._values[name] for name in REQUEST_FIELDS}
        if seed is not None:
            fields["seed"] = seed
        return GenerationRequest(mode=self.mode, init_image=self.init_image).replace(**fields)

    def next_request(self) -> GenerationRequest:
        """The request for the next generation: draws a fresh seed when randomising."""
        seed = random.randint(0, MAX_SEED) if self._values["randomize_seed"] else None
        request = self.request(seed=seed)
        self.last_seed = request.seed
        self.last_seed_changed.emit(request.seed)
        return request

    def set_request(self, request: GenerationRequest, *, keep_seed_mode: bool = False) -> None:
        """Load every request field (reuse parameters); a loaded seed is used as-is, not randomised."""
        for name in REQUEST_FIELDS:
            self.set(name, getattr(request, name))
        if not keep_seed_mode:
            self.set("randomize_seed", False)

    # -- LoRAs ----------------------------------------------------------------------------------
    def add_lora(self, name: str, weight: float = 1.0) -> None:
        """Use the LoRA `name` with `weight` (a LoRA already chosen gets the new weight, in place)."""
        loras = list(self.loras)
        names = [lora.name for lora in loras]
        if name in names:
            loras[names.index(name)] = LoraRef(name, weight)
        else:
            loras.append(LoraRef(name, weight))
        self.set("loras", tuple(loras))

    def remove_lora(self, name: str) -> None:
        self.set("loras", tuple(lora for lora in self.loras if lora.name != name))

    # -- styles ---------------------------------------------------------------------------------
    def add_style(self, style: Style) -> None:
        """Activate `style` (a style of the same name is replaced in place: never applied twice)."""
        names = [s.name for s in self.styles]
        if style.name in names:
            styles = list(self.styles)
            styles[names.index(style.name)] = style
            self._set_styles(tuple(styles))
        else:
            self._set_styles((*self.styles, style))

    def remove_style(self, name: str) -> None:
        self._set_styles(tuple(s for s in self.styles if s.name != name))

    def _set_styles(self, styles: tuple[Style, ...]) -> None:
        if styles != self.styles:
            self.styles = styles
            self.styles_changed.emit(styles)
            self.changed.emit()

    def styled_request(self, request: GenerationRequest) -> GenerationRequest:
        """`request` as the engine runs it: the active styles applied to its prompts."""
        return apply_styles(request, self.styles)

    # -- size that follows the model ----------------------------------------------------------------
    def set_native_size(self, side: int, *, only_if_unedited: bool = False) -> None:
        """Width and height = the model's native `side`. With `only_if_unedited`, only while the size
        is still the one set for the model (a size the artist typed since is kept)."""
        if only_if_unedited and (self._auto_size is None or self._auto_size != (self.width, self.height)):
            return
        self.set("width", side)
        self.set("height", side)
        self._auto_size = (self.width, self.height)

    def reuse_seed(self, seed: int) -> None:
        self.set("seed", seed)
        self.set("randomize_seed", False)

    def reuse_last_seed(self) -> bool:
        if self.last_seed is None:
            return False
        self.reuse_seed(self.last_seed)
        return True
