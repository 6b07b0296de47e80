"""Application settings: one JSON file in the config dir, written atomically.

A file that cannot be parsed is set aside (never overwritten) and defaults are used; a single bad
value falls back to its default. Either way the messages are in `Settings.problems` (not saved)
and in the log. Keys this version does not know are kept in `extra` and written back.

The file's `"version"` is read (a file without one is version 1, the first format). An older file
is updated by the steps registered with `@migrator(from_version, to_version)` after a backup copy
(`settings.json.v1-backup`) is kept next to it; a failing step leaves the file as it was. A file
from a newer Studio is read as far as this version understands it and never downgraded: saving
over it keeps its version, every key (also inside `last_request`) this version does not set, and
values this version could not read unless the artist changed them here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core import request_io
from studio.core.fileio import (
    JSONDict,
    MigrationError,
    Migrations,
    atomic_write_text,
    set_aside,
    upgrade_file,
)
from studio.core.jsontext import parse_json
from studio.core.paths import UserDirs
from studio.core.remote_servers import RUN_ON, RemoteServer, servers_from_json
from studio.core.request import MAX_STEPS, GenerationRequest

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1
MIGRATIONS = Migrations("settings", SETTINGS_VERSION, key="version")
migrator = MIGRATIONS.migrator  # @migrator(1, 2) def _v1_to_v2(data: dict) -> dict: ...
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
PREVIEW_KINDS = ("x0", "latent", "none")
THEMES = ("system", "dark", "light")
# GPU memory modes (studio.engine.memory): "auto" chooses from the free VRAM at each job
MEMORY_MODES = ("auto", "full", "vae", "model_offload", "sequential")
_CHOICES = {
    "device": DEVICES,
    "precision": PRECISIONS,
    "memory_mode": MEMORY_MODES,
    "preview_kind": PREVIEW_KINDS,
    "theme": THEMES,
    "run_on": RUN_ON,
}
_NOT_SAVED = ("problems", "extra", "last_request", "canvas_request", "file_version")
_FOLDER_LISTS = ("model_dirs", "lora_dirs", "embedding_dirs", "vae_dirs", "control_dirs", "upscaler_dirs")


@dataclass(frozen=True)
class Settings:
    device: str = "auto"
    precision: str = "auto"
    memory_mode: str = "auto"  # GPU only: how much of the model stays on the GPU (MEMORY_MODES)
    preview_kind: str = "x0"
    preview_interval: int = 1  # a preview every N steps; 0 = no previews
    output_dir: str = ""  # "" = the default output folder (user_dirs().output)
    model_dirs: tuple[str, ...] = ()  # extra folders searched for models
    # The artist's own files (issue 13): extra folders, searched after the user data folder's
    # loras/, embeddings/ and vae/ (`user_folders` gives the whole list).
    lora_dirs: tuple[str, ...] = ()
    embedding_dirs: tuple[str, ...] = ()
    vae_dirs: tuple[str, ...] = ()
    # Control models (issue 14): extra folders searched after the user data folder's controls/, and
    # the CLIP image encoder folder IP-Adapters use ("" = the `image_encoder` folder beside the adapter).
    control_dirs: tuple[str, ...] = ()
    ip_image_encoder: str = ""
    # Model upscalers (issue 15): extra folders searched after the user data folder's upscalers/.
    upscaler_dirs: tuple[str, ...] = ()
    theme: str = "system"
    # Where jobs run (issue 16): "local" (this computer) or "comfyui" (these servers; their tokens are
    # kept in their own 0600 file, core.remote_servers, never in this one).
    run_on: str = "local"
    comfyui_servers: tuple[RemoteServer, ...] = ()
    last_request: GenerationRequest | None = None  # the request fields at the last close (no images)
    # The canvas's own generation panel (prompt, strength, batch, seed, sampler…) at the last change.
    canvas_request: GenerationRequest | None = None
    canvas_random_seed: bool = True
    extra: JSONDict = field(default_factory=dict, compare=False)  # keys from newer versions
    problems: tuple[str, ...] = field(default=(), compare=False)  # what went wrong loading (not saved)
    file_version: int = field(default=SETTINGS_VERSION, compare=False)  # the version the file had

    @property
    def previews_enabled(self) -> bool:
        return self.preview_interval > 0 and self.preview_kind != "none"


_SAVED_FIELDS = frozenset(f.name for f in dataclasses.fields(Settings) if f.name not in _NOT_SAVED)


def load_settings(path: Path) -> Settings:
    """Settings from `path`; defaults if it is missing or damaged (damaged files are set aside)."""
    path = Path(path)
    if not path.exists():
        return Settings()
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"))  # a BOM (Notepad) is fine
        if not isinstance(data, dict):
            raise ValueError("it is not a JSON object")
    except OSError as exc:
        return _defaults_because(f"The settings file could not be read ({exc}); using defaults.")
    except ValueError as exc:  # bad or too deeply nested JSON, or bad UTF-8
        moved = set_aside(path, str(exc))
        return _defaults_because(
            f"The settings file was damaged ({exc}); it was moved aside as {moved.name} "
            "and the default settings are used."
        )
    return _from_versioned(path, data)


def user_settings(dirs: UserDirs) -> Settings:
    """The app's own settings (``settings.json`` in the config folder) for a tool that only reads them
    (the CLI's folders): the defaults, logged, whatever goes wrong reading them."""
    try:
        return load_settings(dirs.config / "settings.json")
    except Exception:  # unreadable settings never stop the tool
        log.warning("Could not read the settings; using the default folders", exc_info=True)
        return Settings()


def save_settings(settings: Settings, path: Path) -> None:
    """Write `settings` atomically; over a file from a newer Studio, only the keys this version sets."""
    path = Path(path)
    data = settings_to_dict(settings)
    newer = _newer_file_data(path)
    if newer is not None:
        data = _merged(newer, _unread_left_out(newer, data))
        data["version"] = newer["version"]
        log.info("Kept the newer settings format %s in %s when saving", newer["version"], path)
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


class SettingsFile:
    """One app session's settings file: loaded once, then each save merged into what is on disk.

    Several Studio windows (processes) share one config: a save re-reads the file and writes over it
    only the keys (inside `last_request` too) this session changed since it loaded or last saved, so
    the other windows' changes to other keys survive and the latest change of a key wins. Keys this
    version does not know and values it could not read stay as they are on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._base: JSONDict = settings_to_dict(Settings())

    def load(self) -> Settings:
        settings = load_settings(self.path)
        self._base = settings_to_dict(settings)
        return settings

    def save(self, settings: Settings) -> None:
        data = settings_to_dict(settings)
        disk = _file_data(self.path)
        if disk is not None:
            version = max(read_version(disk), MIGRATIONS.current)
            data = _merged(disk, _changed(data, self._base))
            data["version"] = version
        atomic_write_text(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        self._base = settings_to_dict(settings)


def _file_data(path: Path) -> JSONDict | None:
    """The parsed settings file at `path`, or None if it is missing or not a JSON object."""
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _changed(new: JSONDict, base: JSONDict) -> JSONDict:
    """The keys of `new` whose values differ from `base` (nested objects: only their changed keys)."""
    out: JSONDict = {}
    for key, value in new.items():
        old = base.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            if sub := _changed(value, old):
                out[key] = sub
        elif key not in base or value != old:
            out[key] = value
    return out


def read_version(data: JSONDict) -> int:
    """The settings format of a parsed file: its `version`, or 1 (the first format) if it has none."""
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        log.warning("The settings file has an unusable version %r; reading it as version 1", version)
        return 1
    return version


def _from_versioned(path: Path, data: JSONDict) -> Settings:
    version = read_version(data)
    problems: list[str] = []
    current = MIGRATIONS.current
    if version > current:
        log.warning(
            "The settings file %s was written by a newer Studio (settings format %d, this version reads "
            "%d); using the settings this version knows and keeping the rest.",
            path,
            version,
            current,
        )
    elif version < current:
        try:
            data = upgrade_file(path, data, version, MIGRATIONS).data
        except (MigrationError, OSError) as exc:
            message = (
                f"The settings file could not be updated from version {version} ({exc}); it was kept "
                "unchanged (with a backup copy next to it) and read as far as possible."
            )
            log.warning("%s", message)
            problems.append(message)
    settings = settings_from_dict(data)
    problems.extend(settings.problems)
    return dataclasses.replace(settings, file_version=version, problems=tuple(problems))


def _newer_file_data(path: Path) -> JSONDict | None:
    """The parsed file at `path` if it is a settings file from a newer Studio, else None."""
    try:
        data = parse_json(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and read_version(data) > MIGRATIONS.current:
        return data
    return None


def _unread_left_out(newer: JSONDict, data: JSONDict) -> JSONDict:
    """`data` less the settings that this version could not read in `newer` and left at their default:
    a value only a newer Studio knows (a new device, say) survives a run of this one."""
    defaults = Settings()

    def unread_default(key: str) -> bool:
        default = getattr(defaults, key)
        unread = _check(key, newer[key], default) is None
        return unread and data[key] == _plain(default)

    return {k: v for k, v in data.items() if not (k in newer and k in _SAVED_FIELDS and unread_default(k))}


def _merged(base: JSONDict, changes: JSONDict) -> JSONDict:
    """`base` with `changes` written over it; nested objects merged so their unknown keys survive."""
    out = dict(base)
    for key, value in changes.items():
        old = out.get(key)
        out[key] = _merged(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def settings_to_dict(settings: Settings) -> JSONDict:
    data: JSONDict = dict(settings.extra)
    data["version"] = MIGRATIONS.current
    for f in dataclasses.fields(Settings):
        if f.name not in _NOT_SAVED:
            data[f.name] = _plain(getattr(settings, f.name))
    for name in ("last_request", "canvas_request"):
        request = getattr(settings, name)
        if request is not None:
            data[name] = request_io.request_to_dict(request)
    return data


def settings_from_dict(data: JSONDict) -> Settings:
    """Build Settings from a parsed file; bad values fall back to defaults and are reported."""
    problems: list[str] = []
    defaults = Settings()
    values: dict[str, Any] = {}  # each value checked against its field by _check
    known = {f.name for f in dataclasses.fields(Settings)} | {"version"}
    for name in known - set(_NOT_SAVED) - {"version"}:
        if name in data:
            value = _check(name, data[name], getattr(defaults, name), problems)
            if value is None:
                problems.append(
                    f"The setting {name} = {data[name]!r} is not valid; using {getattr(defaults, name)!r}."
                )
            else:
                values[name] = value
    request = _last_request(data.get("last_request"), problems)
    canvas = _last_request(data.get("canvas_request"), problems)
    extra = {k: v for k, v in data.items() if k not in known}
    for message in problems:
        log.warning("%s", message)
    return Settings(
        **values, last_request=request, canvas_request=canvas, extra=extra, problems=tuple(problems)
    )


def _check(name: str, value: object, default: object, problems: list[str] | None = None) -> object:
    """The value if it has the right type/choice (folder lists as tuples of str), else None. A server
    list keeps its good entries; the bad ones are named in `problems`."""
    if name == "comfyui_servers":
        return servers_from_json(value, [] if problems is None else problems)
    if name in _CHOICES:
        return value if value in _CHOICES[name] else None
    if name in _FOLDER_LISTS:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return None
    if name == "preview_interval":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STEPS
        return value if ok else None
    return value if isinstance(value, type(default)) else None


def user_folders(
    settings: Settings, dirs: UserDirs
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(LoRA, embedding, VAE) folders: the user data folder's own first, then the settings' extra ones."""

    def joined(own: Path, extra: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((str(own), *extra)))

    return (
        joined(dirs.loras, settings.lora_dirs),
        joined(dirs.embeddings, settings.embedding_dirs),
        joined(dirs.vae, settings.vae_dirs),
    )


def control_folders(settings: Settings, dirs: UserDirs) -> tuple[str, ...]:
    """Folders searched for control models: the user data folder's own first, then the settings' ones."""
    return tuple(dict.fromkeys((str(dirs.controls), *settings.control_dirs)))


def upscaler_folders(settings: Settings, dirs: UserDirs) -> tuple[str, ...]:
    """Folders searched for model upscalers: the user data folder's own first, then the settings' ones."""
    return tuple(dict.fromkeys((str(dirs.upscalers), *settings.upscaler_dirs)))


def _last_request(data: object, problems: list[str]) -> GenerationRequest | None:
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


def _plain(value: object) -> object:
    if isinstance(value, RemoteServer):
        return value.to_json()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)  # enums
