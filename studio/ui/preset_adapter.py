"""The few places the UI depends on the shape of `studio.core.presets.Preset`."""

from __future__ import annotations

import dataclasses
from typing import Any

from studio.core.request import GenerationRequest

PRESET_FIELDS = (
    "prompt",
    "negative_prompt",
    "model",
    "steps",
    "guidance",
    "scheduler",
    "width",
    "height",
    "batch",
    "strength",
    "seed",
)


def preset_fields(preset: Any) -> dict[str, Any]:
    """The request fields a preset sets (None = leave as is)."""
    fields = getattr(preset, "fields", None)
    if isinstance(fields, dict):
        values = dict(fields)
    elif dataclasses.is_dataclass(preset):
        values = {f.name: getattr(preset, f.name) for f in dataclasses.fields(preset)}
    else:
        values = {name: getattr(preset, name, None) for name in PRESET_FIELDS}
    return {k: v for k, v in values.items() if k in PRESET_FIELDS and v is not None}


def make_preset(name: str, request: GenerationRequest, *, with_seed: bool = False) -> Any:
    from studio.core.presets import Preset

    fields = {k: getattr(request, k) for k in PRESET_FIELDS if with_seed or k != "seed"}
    from_request = getattr(Preset, "from_request", None)
    if callable(from_request):
        return from_request(name, request) if with_seed else _without_seed(from_request(name, request))
    names = {f.name for f in dataclasses.fields(Preset)}
    if "fields" in names:
        return Preset(name=name, fields=fields)
    return Preset(name=name, **{k: v for k, v in fields.items() if k in names})


def _without_seed(preset: Any) -> Any:
    if dataclasses.is_dataclass(preset) and any(f.name == "seed" for f in dataclasses.fields(preset)):
        return dataclasses.replace(preset, seed=None)
    return preset


def is_builtin(store: Any, preset: Any) -> bool:
    flag = getattr(preset, "builtin", None)
    if flag is None:
        flag = getattr(preset, "read_only", None)
    if flag is None and callable(getattr(store, "is_builtin", None)):
        flag = store.is_builtin(preset.name)
    return bool(flag)
