"""GenerationRequest to and from plain JSON dicts (metadata, presets, settings share this).

Reading is forgiving: values of the wrong type, unknown enum values or values that fail
validation keep the base request's value and add a human message to `notes`.
"""

from __future__ import annotations

import dataclasses
import logging
from enum import Enum

from studio.core.control import check_controls, unit_to_dict, units_from_json
from studio.core.fileio import JSONDict
from studio.core.request import GenerationRequest, LoraRef, Mode

log = logging.getLogger(__name__)

IMAGE_FIELDS = ("init_image", "mask")
_UNCHECKED = ("mode", *IMAGE_FIELDS)
REQUEST_FIELDS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(GenerationRequest) if f.name not in IMAGE_FIELDS
)
# Tuple fields, written as JSON lists: `loras` as [{"name": str, "weight": number}], these as [str].
_PATH_LIST_FIELDS = ("lora_dirs", "embedding_dirs", "upscaler_dirs")


def request_to_dict(request: GenerationRequest) -> JSONDict:
    """Every request field except the images, as JSON-ready values (enums as their values)."""
    out = {name: _jsonable(getattr(request, name)) for name in REQUEST_FIELDS if name != "controls"}
    out["controls"] = [unit_to_dict(unit) for unit in request.controls]  # without their images
    return out


def coerce_fields(data: JSONDict, base: GenerationRequest, notes: list[str]) -> JSONDict:
    """JSON values -> typed request field values (by the type of `base`'s value); bad ones noted."""
    out: JSONDict = {}
    for key, value in data.items():
        if key not in REQUEST_FIELDS:
            log.debug("Ignoring unknown request field %r", key)
            continue
        if key == "loras":
            out[key] = _lora_refs(value, notes)
            continue
        if key == "controls":
            out[key] = units_from_json(value, notes)
            continue
        if key in _PATH_LIST_FIELDS:
            ok, converted = _path_list(value)
        else:
            ok, converted = _coerce(getattr(base, key), value)
        if ok:
            out[key] = converted
        else:
            notes.append(f"Ignored {key} = {value!r}: not a usable value.")
    return out


def apply_checked(base: GenerationRequest, changes: JSONDict, notes: list[str]) -> GenerationRequest:
    """`base` with each change that passes validation; a rejected change keeps the base value."""
    # the images (and the controls, which carry theirs) are checked when the job is submitted
    probe = base.replace(mode=Mode.TXT2IMG, init_image=None, mask=None, controls=())
    try:
        probe.validate()
    except ValueError:
        return base.replace(**changes)  # base itself is not valid: nothing to check against
    accepted: JSONDict = {}
    for key, value in changes.items():
        if key in _UNCHECKED:  # checked against the images when the job is submitted
            accepted[key] = value
            continue
        if key == "controls":  # their images are added before the job runs
            try:
                check_controls(value, require_images=False)
            except ValueError as exc:
                notes.append(f"{exc} The controls were not taken over.")
                continue
            accepted[key] = value
            continue
        try:
            probe.replace(**{key: value}).validate()
        except ValueError as exc:
            notes.append(f"{exc} Kept the current value.")
            continue
        except TypeError as exc:
            notes.append(f"Ignored {key} = {value!r}: {exc}")
            continue
        accepted[key] = value
    return base.replace(**accepted)


def apply_dict(base: GenerationRequest, data: JSONDict, notes: list[str]) -> GenerationRequest:
    """Coerce a JSON dict and apply it with `apply_checked`."""
    return apply_checked(base, coerce_fields(data, base, notes), notes)


def _jsonable(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _coerce(current: object, value: object) -> tuple[bool, object]:
    if isinstance(current, Enum):
        try:
            return True, type(current)(value)
        except ValueError:
            return False, None
    if dataclasses.is_dataclass(current) and not isinstance(current, type):
        if not isinstance(value, dict):
            return False, None
        sub: JSONDict = {}
        for f in dataclasses.fields(current):
            if f.name in value:
                ok, converted = _coerce(getattr(current, f.name), value[f.name])
                if not ok:
                    return False, None
                sub[f.name] = converted
        return True, dataclasses.replace(current, **sub)
    return _coerce_scalar(current, value)


def _coerce_scalar(current: object, value: object) -> tuple[bool, object]:
    if isinstance(value, bool) or value is None:
        return (isinstance(current, bool) and isinstance(value, bool)), value
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and value.is_integer():
            return True, int(value)
        return False, None
    if isinstance(current, float):
        return isinstance(value, (int, float)), float(value) if isinstance(value, (int, float)) else None
    if isinstance(current, str):
        return isinstance(value, str), value
    return False, None


def _path_list(value: object) -> tuple[bool, object]:
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return True, tuple(value)
    return False, None


def _lora_refs(value: object, notes: list[str]) -> tuple[LoraRef, ...]:
    """JSON `[{"name": ..., "weight": ...}]` -> LoraRefs; unreadable entries are left out and noted."""
    if not isinstance(value, (list, tuple)):
        notes.append(f"Ignored loras = {value!r}: not a list of LoRAs.")
        return ()
    refs: list[LoraRef] = []
    for item in value:
        ref = _lora_ref(item)
        if ref is None:
            notes.append(f"Ignored the LoRA {item!r}: it needs a name and a numeric weight.")
        else:
            refs.append(ref)
    return tuple(refs)


def _lora_ref(item: object) -> LoraRef | None:
    if not isinstance(item, dict):
        return None
    name, weight = item.get("name"), item.get("weight", 1.0)
    if not isinstance(name, str) or not name.strip():
        return None
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        return None
    return LoraRef(name=name, weight=float(weight))
