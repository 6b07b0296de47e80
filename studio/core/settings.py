"""Application settings: one JSON file in the config dir, written atomically.

A file that cannot be parsed is set aside (never overwritten) and defaults are used; a single bad
value falls back to its default. Either way the messages are in `Settings.problems` (not saved)
and in the log. Keys this version does not know are kept in `extra` and written back.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core import request_io
from studio.core.fileio import atomic_write_text, set_aside
from studio.core.request import MAX_STEPS, GenerationRequest

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
PREVIEW_KINDS = ("x0", "latent", "none")
THEMES = ("system", "dark", "light")
_CHOICES = {"device": DEVICES, "precision": PRECISIONS, "preview_kind": PREVIEW_KINDS, "theme": THEMES}
_NOT_SAVED = ("problems", "extra", "last_request")


@dataclass(frozen=True)
class Settings:
    device: str = "auto"
    precision: str = "auto"
    preview_kind: str = "x0"
    preview_interval: int = 1  # a preview every N steps; 0 = no previews
    output_dir: str = ""  # "" = the default output folder (user_dirs().output)
    model_dirs: tuple[str, ...] = ()  # extra folders searched for models
    theme: str = "system"
    last_request: GenerationRequest | None = None  # the request fields at the last close (no images)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # keys from newer versions
    problems: tuple[str, ...] = field(default=(), compare=False)  # what went wrong loading (not saved)

    @property
    def previews_enabled(self) -> bool:
        return self.preview_interval > 0 and self.preview_kind != "none"


def load_settings(path: Path) -> Settings:
    """Settings from `path`; defaults if it is missing or damaged (damaged files are set aside)."""
    path = Path(path)
    if not path.exists():
        return Settings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
    except OSError as exc:
        return _defaults_because(f"The settings file could not be read ({exc}); using defaults.")
    except ValueError as exc:  # bad JSON or bad UTF-8
        moved = set_aside(path, str(exc))
        return _defaults_because(
            f"The settings file was damaged ({exc}); it was moved aside as {moved.name} "
            "and the default settings are used."
        )
    return settings_from_dict(data)


def save_settings(settings: Settings, path: Path) -> None:
    atomic_write_text(Path(path), json.dumps(settings_to_dict(settings), indent=2, ensure_ascii=False) + "\n")


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    data: dict[str, Any] = dict(settings.extra)
    data["version"] = SETTINGS_VERSION
    for f in dataclasses.fields(Settings):
        if f.name not in _NOT_SAVED:
            data[f.name] = _plain(getattr(settings, f.name))
    if settings.last_request is not None:
        data["last_request"] = request_io.request_to_dict(settings.last_request)
    return data


def settings_from_dict(data: dict[str, Any]) -> Settings:
    """Build Settings from a parsed file; bad values fall back to defaults and are reported."""
    problems: list[str] = []
    defaults = Settings()
    values: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(Settings)} | {"version"}
    for name in known - set(_NOT_SAVED) - {"version"}:
        if name in data:
            value = _check(name, data[name], getattr(defaults, name))
            if value is None:
                problems.append(
                    f"The setting {name} = {data[name]!r} is not valid; using {getattr(defaults, name)!r}."
                )
            else:
                values[name] = value
    request = _last_request(data.get("last_request"), problems)
    extra = {k: v for k, v in data.items() if k not in known}
    for message in problems:
        log.warning("%s", message)
    return Settings(**values, last_request=request, extra=extra, problems=tuple(problems))


def _check(name: str, value: Any, default: Any) -> Any:
    """The value if it has the right type/choice (model_dirs as a tuple of str), else None."""
    if name in _CHOICES:
        return value if value in _CHOICES[name] else None
    if name == "model_dirs":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        return tuple(value) if ok else None
    if name == "preview_interval":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STEPS
        return value if ok else None
    return value if isinstance(value, type(default)) else None


def _last_request(data: Any, problems: list[str]) -> GenerationRequest | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append("The remembered generation settings were not readable; using defaults.")
        return None
    notes: list[str] = []
    request = request_io.apply_dict(GenerationRequest(), data, notes)
    problems.extend(f"Remembered settings: {n}" for n in notes)
    return request


def _defaults_because(message: str) -> Settings:
    log.warning("%s", message)
    return Settings(problems=(message,))


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)  # enums
