"""Control units of a job: ControlNet, T2I-Adapter and IP-Adapter (issue 14).

A `ControlUnit` names a model file or folder, carries its image (a control map, or an IP-Adapter's
reference picture), a weight and the fraction of the steps it acts on. Units are part of the
`GenerationRequest` (`request.controls`); the engine loads the models (`studio.engine.control`), the
core only describes and checks them, writes them as A1111's sd-webui-controlnet does
(`ControlNet 0: "Module: canny, Model: ..., Weight: 1, ..."`) and reads that text back.

The images are not serialised (like the request's init image): JSON and PNG text keep `image_name`,
and a unit read back without its image is reported to the artist rather than run.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

MAX_CONTROL_UNITS = 8
MAX_CONTROL_WEIGHT = 2.0  # A1111's slider range


class ControlKind(str, Enum):
    CONTROLNET = "controlnet"
    T2I_ADAPTER = "t2i_adapter"
    IP_ADAPTER = "ip_adapter"

    @property
    def label(self) -> str:
        return {"controlnet": "ControlNet", "t2i_adapter": "T2I-Adapter", "ip_adapter": "IP-Adapter"}[
            self.value
        ]


class ControlMode(str, Enum):
    """A1111's control modes (ControlNet only)."""

    BALANCED = "balanced"
    PROMPT = "prompt"  # "My prompt is more important": residuals fade towards the shallow blocks
    CONTROL = "control"  # "ControlNet is more important": diffusers' guess mode

    @property
    def a1111(self) -> str:
        return _A1111_MODES[self]


_A1111_MODES = {
    ControlMode.BALANCED: "Balanced",
    ControlMode.PROMPT: "My prompt is more important",
    ControlMode.CONTROL: "ControlNet is more important",
}

# Built-in preprocessors: none needs downloaded weights (studio.core.control_images runs them).
PREPROCESSORS = (
    "none", "canny", "softedge", "lineart", "invert", "scribble", "tile", "inpaint", "depth", "normal", "pose",
)  # fmt: skip
# "inpaint": for an inpaint ControlNet (control_v11p_sd15_inpaint): the image with the job's masked
# pixels marked (-1), as the model was trained; inpaint and outpaint jobs only.
# Maps the artist brings as images (passed through as they are; the name says what the map is, which
# a union ControlNet needs): say so in the UI.
BROUGHT_MAPS = ("depth", "normal", "pose")
# xinsir's union / promax ControlNets (diffusers' ControlNetUnionModel): the control type of each
# preprocessor's map (0 pose, 1 depth, 2 soft edge / scribble, 3 canny / line art, 4 normal, 6 tile,
# 7 repaint = inpaint; 6 and 7 exist in promax models only)
UNION_TYPES = {"pose": 0, "depth": 1, "softedge": 2, "scribble": 2, "canny": 3, "lineart": 3, "invert": 3,
               "normal": 4, "tile": 6, "inpaint": 7}  # fmt: skip


@dataclass(frozen=True)
class ControlUnit:
    """One control on a job. `start`/`end` are fractions of the denoising steps it acts on."""

    kind: ControlKind = ControlKind.CONTROLNET
    model: str = ""  # a single-file .safetensors/.bin or a diffusers folder
    image: Image.Image | None = field(default=None, compare=False, repr=False)
    image_name: str = ""  # where the image came from (a layer, a file name): for metadata and history
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    mode: ControlMode = ControlMode.BALANCED
    preprocessor: str = "none"  # applied by the engine to `image` before the model sees it
    low_threshold: int = 100  # canny
    high_threshold: int = 200  # canny
    mask: Image.Image | None = field(default=None, compare=False, repr=False)  # IP-Adapter region (white)
    mask_name: str = ""  # where the region mask came from (a layer, a file); "" = acts everywhere

    def replace(self, **changes: object) -> ControlUnit:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def model_name(self) -> str:
        return PurePath(self.model).name if self.model else ""

    def describe(self) -> str:
        """One line for the UI and history: "ControlNet canny 1.0 (0-100 %) control_sd15_canny"."""
        span = f"{self.start * 100:.0f}-{self.end * 100:.0f} %"
        pre = "" if self.preprocessor == "none" else f" {self.preprocessor}"
        return f"{self.kind.label}{pre} {self.weight:g} ({span}) {self.model_name}"


def check_controls(units: object, require_images: bool = True) -> None:
    """Raise ValueError with a message the artist can act on; None when every unit is usable.
    `require_images` False checks the settings only (units read from a preset or an image's metadata,
    whose images the artist adds before the job runs)."""
    if not isinstance(units, tuple) or not all(isinstance(u, ControlUnit) for u in units):
        raise ValueError("The control list could not be read: each control needs a type, model and image.")
    if len(units) > MAX_CONTROL_UNITS:
        raise ValueError(f"At most {MAX_CONTROL_UNITS} controls per job, not {len(units)}.")
    for index, unit in enumerate(units):
        _check_unit(index, unit, require_images)
    kinds = {u.kind for u in units}
    if ControlKind.CONTROLNET in kinds and ControlKind.T2I_ADAPTER in kinds:
        raise ValueError(
            "ControlNet and T2I-Adapter units cannot run in one job (no diffusers pipeline combines "
            "them): keep one type, or turn the other units off."
        )


def _check_unit(index: int, unit: ControlUnit, require_image: bool = True) -> None:
    label = f"Control {index + 1} ({_kind_label(unit.kind)})"
    if not isinstance(unit.kind, ControlKind):
        raise ValueError(f"{label}: unknown control type {unit.kind!r}.")
    if not isinstance(unit.model, str) or not unit.model.strip():
        raise ValueError(f"{label} has no model: choose its file or folder.")
    if unit.image is None and require_image:
        raise ValueError(f"{label} has no image: choose a layer or an image file for it.")
    if unit.image is not None and 0 in unit.image.size:
        raise ValueError(f"{label}: its image is empty (0 pixels wide or high).")
    _number(label, "weight", unit.weight, 0.0, MAX_CONTROL_WEIGHT)
    _number(label, "start", unit.start, 0.0, 1.0)
    _number(label, "end", unit.end, 0.0, 1.0)
    if unit.start >= unit.end:
        raise ValueError(
            f"{label}: start ({unit.start:g}) must come before end ({unit.end:g}); "
            "they are fractions of the steps, 0 to 1."
        )
    if not isinstance(unit.mode, ControlMode):
        raise ValueError(f"{label}: unknown control mode {unit.mode!r} (balanced, prompt or control).")
    if unit.preprocessor not in PREPROCESSORS:
        raise ValueError(
            f"{label}: unknown preprocessor {unit.preprocessor!r}. Choose one of: {', '.join(PREPROCESSORS)} "
            f"(depth, normal and pose maps: bring them as images, preprocessor depth, normal or pose)."
        )
    if unit.kind is ControlKind.IP_ADAPTER and unit.preprocessor != "none":
        raise ValueError(f"{label}: an IP-Adapter takes the reference picture as it is (preprocessor none).")
    for name, value in (("low threshold", unit.low_threshold), ("high threshold", unit.high_threshold)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            raise ValueError(f"{label}: canny {name} must be a whole number from 0 to 255, not {value!r}.")


def _kind_label(kind: object) -> str:
    return kind.label if isinstance(kind, ControlKind) else str(kind)


def _number(label: str, name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{label}: {name} must be a number, not {value!r}.")
    if not low <= value <= high:
        raise ValueError(f"{label}: {name} must be between {low:g} and {high:g}, not {value:g}.")


def normalized(unit: ControlUnit) -> ControlUnit:
    """Enum fields given as plain strings (from JSON, say) become enums; raises ValueError."""
    return unit.replace(kind=ControlKind(unit.kind), mode=ControlMode(unit.mode))


# ---- JSON ------------------------------------------------------------------------------------

_JSON_FIELDS = tuple(f.name for f in dataclasses.fields(ControlUnit) if f.name not in ("image", "mask"))


def unit_to_dict(unit: ControlUnit) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in _JSON_FIELDS:
        value = getattr(unit, name)
        out[name] = value.value if isinstance(value, Enum) else value
    return out


def units_from_json(value: object, notes: list[str]) -> tuple[ControlUnit, ...]:
    """JSON `[{kind, model, ...}]` -> units without images; unreadable entries left out and noted."""
    if not isinstance(value, (list, tuple)):
        notes.append(f"Ignored controls = {value!r}: not a list of controls.")
        return ()
    units = []
    for item in value:
        unit = _unit_from_dict(item)
        if unit is None:
            notes.append(f"Ignored the control {item!r}: it could not be read.")
        else:
            units.append(unit)
    return tuple(units)


def _unit_from_dict(item: object) -> ControlUnit | None:
    if not isinstance(item, dict):
        return None
    base = ControlUnit()
    changes: dict[str, object] = {}
    for name in _JSON_FIELDS:
        if name not in item:
            continue
        value, current = item[name], getattr(base, name)
        converted = _convert(current, value)
        if converted is None:
            return None
        changes[name] = converted
    return base.replace(**changes)


def _convert(current: object, value: object) -> object | None:
    if isinstance(current, Enum):
        try:
            return type(current)(value)
        except ValueError:
            return None
    if isinstance(value, bool):
        return None
    if isinstance(current, int):
        return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else None
    if isinstance(current, float):
        return float(value) if isinstance(value, (int, float)) else None
    return value if isinstance(value, str) else None


# ---- A1111 text (sd-webui-controlnet) --------------------------------------------------------

A1111_KEY = re.compile(r"^ControlNet \d+$")
_MODULES = {"none": "none", "canny": "canny", "softedge": "softedge_pidinet", "lineart": "lineart_standard",
            "invert": "invert", "scribble": "scribble_pidinet", "tile": "tile_resample",
            "inpaint": "inpaint_only", "depth": "depth (yours)", "normal": "normal (yours)",
            "pose": "openpose (yours)"}  # fmt: skip
_MODULE_TO_PRE = {v: k for k, v in _MODULES.items()}
_IP_MODULE = "ip-adapter_clip"


def a1111_fields(units: tuple[ControlUnit, ...], hashes: dict[str, str] | None = None) -> dict[str, str]:
    """`{"ControlNet 0": "Module: canny, Model: name [hash], Weight: 1, ..."}` for each unit."""
    hashes = hashes or {}
    out = {}
    for index, unit in enumerate(units):
        module = _IP_MODULE if unit.kind is ControlKind.IP_ADAPTER else _MODULES[unit.preprocessor]
        stem = PurePath(unit.model_name).stem if unit.model_name else ""
        model = f"{stem} [{hashes[unit.model]}]" if hashes.get(unit.model) else stem
        parts = [
            f"Module: {module}",
            f"Model: {model}",
            f"Weight: {unit.weight:g}",
            f"Guidance Start: {unit.start:g}",
            f"Guidance End: {unit.end:g}",
            f"Control Mode: {unit.mode.a1111}",
        ]
        if unit.preprocessor == "canny":
            parts += [f"Threshold A: {unit.low_threshold}", f"Threshold B: {unit.high_threshold}"]
        if unit.kind is not ControlKind.CONTROLNET:
            parts.append(f"Studio Type: {unit.kind.value}")
        if unit.image_name:
            parts.append(f"Studio Image: {_clean(unit.image_name)}")
        out[f"ControlNet {index}"] = ", ".join(parts)
    return out


def _clean(text: str) -> str:
    return re.sub(r"[,:\"\n]", " ", text).strip()


def units_from_a1111(settings: dict[str, str]) -> tuple[list[ControlUnit], list[str]]:
    """Units described by `ControlNet N` keys (no images: the PNG holds none), and notes."""
    units: list[ControlUnit] = []
    notes: list[str] = []
    for key in sorted((k for k in settings if A1111_KEY.match(k)), key=lambda k: int(k.split()[1])):
        unit = _unit_from_text(settings[key])
        if unit is None:
            notes.append(f"{key} could not be read.")
        else:
            units.append(unit)
    return units, notes


def _unit_from_text(text: str) -> ControlUnit | None:
    fields = {}
    for part in text.strip().strip('"').split(","):
        key, sep, value = part.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    module = fields.get("Module", "none")
    kind_text = fields.get("Studio Type", "")
    try:
        kind = ControlKind(kind_text) if kind_text else _kind_for_module(module)
        mode = next(m for m, text in _A1111_MODES.items() if text == fields.get("Control Mode", "Balanced"))
        return ControlUnit(
            kind=kind,
            model=re.sub(r"\s*\[[0-9a-fA-F]+\]$", "", fields.get("Model", "")),
            image_name=fields.get("Studio Image", ""),
            weight=float(fields.get("Weight", 1)),
            start=float(fields.get("Guidance Start", 0)),
            end=float(fields.get("Guidance End", 1)),
            mode=mode,
            preprocessor=_MODULE_TO_PRE.get(module, "none"),
            low_threshold=int(float(fields.get("Threshold A", 100))),
            high_threshold=int(float(fields.get("Threshold B", 200))),
        )
    except (ValueError, StopIteration):
        return None


def _kind_for_module(module: str) -> ControlKind:
    return ControlKind.IP_ADAPTER if module.startswith("ip-adapter") else ControlKind.CONTROLNET
