"""Presets: named subsets of a request, one JSON file each.

File: `{"schema_version": 1, "name": "...", "settings": {"steps": 30, ...}}`. Built-ins (read-only)
live in `resources/presets/`, the user's in the config dir. Writes are atomic; a file that cannot be
read (bad JSON, no schema_version, wrong types) is set aside with `fileio.set_aside`, never
overwritten, and a message is added to `PresetStore.problems`.
An older user preset is updated by the steps registered with `@migrator(from_version, to_version)`,
after a backup copy (`NAME.json.v1-backup`) is kept next to it; a failing step leaves it unchanged.
A preset from a newer Studio (higher schema_version; `Preset.newer`) is read as far as this version
understands it and left in place untouched: saving over or renaming it is refused, duplicating works.
A prompt with `{prompt}` (as in A1111 styles) wraps the current prompt instead of replacing it.
Control units (issue 14) are kept as `"controls": [{kind, model, weight, ...}]` without their images
(`image_name` says where the image came from); an entry that cannot be read is left out with a note
when the preset is applied, and never makes the rest of the preset unusable.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from studio.core import request_io
from studio.core.control import unit_to_dict, units_from_json
from studio.core.fileio import (
    JSONDict,
    MigrationError,
    Migrations,
    atomic_write_text,
    set_aside,
    upgrade_file,
)
from studio.core.jsontext import parse_json
from studio.core.request import GenerationRequest
from studio.core.styles_csv import PROMPT_PLACEHOLDER, StylesCsvError, read_styles_csv

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MIGRATIONS = Migrations("preset", SCHEMA_VERSION, key="schema_version")
migrator = MIGRATIONS.migrator  # @migrator(1, 2) def _v1_to_v2(data: dict) -> dict: ...
MAX_NAME = 100
# The request fields a preset may set, with the JSON types accepted for each.
PRESET_FIELDS: dict[str, tuple[type, ...]] = {
    "prompt": (str,),
    "negative_prompt": (str,),
    "model": (str,),
    "steps": (int,),
    "guidance": (int, float),
    "scheduler": (str,),
    "width": (int,),
    "height": (int,),
    "batch": (int,),
    "strength": (int, float),
    "seed": (int,),
    "controls": (list,),  # [{kind, model, weight, ...}]: core.control's JSON, without images
    "hires": (dict,),  # {enabled, scale, upscaler, steps, denoise}: the hires fix (issue 15)
}
_LENIENT_FIELDS = ("controls", "hires")  # a value of the wrong type is left out, never refuses the preset
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


class PresetError(ValueError):
    """A preset action that cannot be done; the message is for the artist."""


@dataclass(frozen=True)
class Preset:
    name: str
    fields: JSONDict = field(default_factory=dict)  # subset of PRESET_FIELDS
    schema_version: int = SCHEMA_VERSION
    builtin: bool = False
    path: Path | None = field(default=None, compare=False)

    @classmethod
    def capture(cls, name: str, request: GenerationRequest, with_seed: bool = False) -> Preset:
        """A preset holding the request's current values for every preset field."""
        keys = [k for k in PRESET_FIELDS if (with_seed or k != "seed") and k not in ("controls", "hires")]
        fields: JSONDict = {k: getattr(request, k) for k in keys}
        fields["hires"] = dataclasses.asdict(request.hires)
        if request.controls:  # a preset saved without controls leaves the current ones alone
            fields["controls"] = [unit_to_dict(unit) for unit in request.controls]
        return cls(name=name, fields=fields)

    def apply_to(self, request: GenerationRequest, notes: list[str] | None = None) -> GenerationRequest:
        """`request` with this preset's fields; values that would not validate are skipped (noted)."""
        notes = notes if notes is not None else []
        changes = dict(self.fields)
        if "controls" in changes:
            changes["controls"] = units_from_json(changes["controls"], notes)
        if "hires" in changes:  # JSON -> HiresOptions (a value that cannot be read is left out, noted)
            changes.update(request_io.coerce_fields({"hires": changes.pop("hires")}, request, notes))
        for key in ("prompt", "negative_prompt"):
            value = changes.get(key)
            if isinstance(value, str) and PROMPT_PLACEHOLDER in value:
                changes[key] = merge_prompt(value, getattr(request, key))
        return request_io.apply_checked(request, changes, notes)

    def to_json(self) -> JSONDict:
        return {"schema_version": MIGRATIONS.current, "name": self.name, "settings": dict(self.fields)}

    @property
    def newer(self) -> bool:
        """Whether the file was written by a newer Studio (read as far as this version can)."""
        return self.schema_version > MIGRATIONS.current

    @classmethod
    def from_json(cls, data: object, *, builtin: bool = False, path: Path | None = None) -> Preset:
        """Parse a preset file's JSON (older formats migrated in memory); PresetError says what is wrong.

        A preset from a newer Studio is read leniently: fields this version does not know, or whose
        values it cannot use, are left out instead of failing."""
        version = schema_version(data)
        if not isinstance(data, dict):  # schema_version has refused it already
            raise PresetError("it is not a JSON object")
        if version < MIGRATIONS.current:
            data = MIGRATIONS.migrate(data, version)  # MigrationError is a ValueError
        newer = version > MIGRATIONS.current
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PresetError("it has no name")
        settings = data.get("settings", {})
        if not isinstance(settings, dict) and not newer:
            raise PresetError("its settings are not a JSON object")
        fields = check_fields(settings if isinstance(settings, dict) else {}, lenient=newer)
        return cls(name=name.strip(), fields=fields, schema_version=version, builtin=builtin, path=path)


def schema_version(data: object) -> int:
    """The `schema_version` of a parsed preset file; PresetError if it is not a preset object."""
    if not isinstance(data, dict):
        raise PresetError("it is not a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise PresetError("it has no schema_version")
    return version


def check_fields(settings: JSONDict, lenient: bool = False) -> JSONDict:
    """The known preset fields with accepted types (floats made float).

    A value of the wrong type raises PresetError, or is left out (logged) when `lenient`."""
    out: JSONDict = {}
    for key, value in settings.items():
        if key not in PRESET_FIELDS:
            log.debug("Ignoring unknown preset field %r", key)
            continue
        if value is None:
            continue
        types = PRESET_FIELDS[key]
        if isinstance(value, bool) or not isinstance(value, types):
            if lenient or key in _LENIENT_FIELDS:
                log.info("Ignoring preset field %s = %r: not a value this version can use", key, value)
                continue
            raise PresetError(f"{key} has the wrong type ({value!r})")
        out[key] = float(value) if float in types and isinstance(value, int) else value
    return out


def merge_prompt(template: str, current: str) -> str:
    """A1111 style text: `{prompt}` replaced by the current prompt, stray commas tidied if empty."""
    merged = template.replace(PROMPT_PLACEHOLDER, current)
    if not current.strip():
        merged = re.sub(r"^[\s,]+|[\s,]+$", "", merged)
    return merged


def slugify(name: str) -> str:
    """A safe file stem for a preset name: ascii, lower case, dashes; never empty or reserved."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-") or "preset"
    return f"{slug}-preset" if slug in _RESERVED else slug


class PresetStore:
    """The user's presets (`user_dir`) plus read-only built-ins (`builtin_dir`)."""

    def __init__(self, user_dir: Path, builtin_dir: Path | None = None) -> None:
        self.user_dir = Path(user_dir)
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else None
        self.problems: list[str] = []  # messages for the artist; the UI shows and clears them
        self._noted_newer: set[Path] = set()  # newer-format files already logged

    # ---- reading ----

    def list(self) -> list[Preset]:
        """Built-ins first, then the user's presets, each sorted by name."""
        return self._builtins() + self._user_presets()

    def get(self, name: str) -> Preset | None:
        key = name.strip().casefold()
        for preset in self._user_presets() + self._builtins():
            if preset.name.casefold() == key:
                return preset
        return None

    def is_builtin(self, name: str) -> bool:
        preset = self.get(name)
        return bool(preset and preset.builtin)

    # ---- writing ----

    def save(self, preset: Preset) -> Preset:
        """Create or update the user preset of this name (built-in names are refused)."""
        name = _check_name(preset.name)
        fields = check_fields(preset.fields)
        existing = self.get(name)
        if existing and existing.builtin:
            raise PresetError(f"“{existing.name}” is a built-in preset; choose another name.")
        if existing:
            _refuse_newer(existing, "overwritten")
        path = existing.path if existing and existing.path else self._free_path(name)
        saved = Preset(name=name, fields=fields, path=path)
        atomic_write_text(path, json.dumps(saved.to_json(), indent=2, ensure_ascii=False) + "\n")
        log.info("Saved preset %r to %s", name, path)
        return saved

    def rename(self, old_name: str, new_name: str) -> Preset:
        preset = self._require_user(old_name, "renamed")
        _refuse_newer(preset, "renamed")
        new_name = _check_name(new_name)
        other = self.get(new_name)
        if other and other.path != preset.path:
            raise PresetError(f"There is already a preset named “{other.name}”.")
        if new_name.casefold() == preset.name.casefold():
            return self.save(dataclasses.replace(preset, name=new_name))
        renamed = self.save(Preset(name=new_name, fields=preset.fields))
        assert preset.path is not None
        preset.path.unlink(missing_ok=True)
        return renamed

    def duplicate(self, name: str, new_name: str | None = None) -> Preset:
        preset = self._require(name)
        new_name = _check_name(new_name) if new_name else self._unique_name(f"{preset.name} copy")
        if self.get(new_name):
            raise PresetError(f"There is already a preset named “{new_name}”.")
        return self.save(Preset(name=new_name, fields=preset.fields))

    def delete(self, name: str) -> None:
        preset = self._require_user(name, "deleted")
        assert preset.path is not None
        preset.path.unlink(missing_ok=True)
        log.info("Deleted preset %r (%s)", preset.name, preset.path)

    def export(self, name: str, path: Path) -> Path:
        preset = self._require(name)
        path = Path(path)
        atomic_write_text(path, json.dumps(preset.to_json(), indent=2, ensure_ascii=False) + "\n")
        return path

    def import_file(self, path: Path) -> Preset:
        """Add a preset file from elsewhere (renamed if its name is taken); the file is left as is."""
        path = Path(path)
        try:
            data = parse_json(path.read_text(encoding="utf-8-sig"))
            preset = Preset.from_json(data)
        except (OSError, UnicodeDecodeError) as exc:
            raise PresetError(f"Could not read {path.name}: {exc}") from exc
        except MigrationError as exc:
            raise PresetError(f"{path.name} could not be read: {exc}.") from exc
        except ValueError as exc:  # JSONDecodeError and PresetError
            raise PresetError(f"{path.name} is not a Studio preset: {exc}.") from exc
        name = self._unique_name(preset.name, " (imported)") if self.get(preset.name) else preset.name
        return self.save(Preset(name=name, fields=preset.fields))

    def import_styles_csv(self, path: Path) -> builtins.list[Preset]:
        """Import A1111 `styles.csv` (name,prompt,negative_prompt); returns the presets created."""
        try:
            styles = read_styles_csv(Path(path))
        except StylesCsvError as exc:
            raise PresetError(str(exc)) from exc
        created: list[Preset] = []
        for style in styles:
            if not style.name:
                self._problem(f"{Path(path).name}, line {style.line}: a style without a name was skipped.")
                continue
            name = style.name[:MAX_NAME]
            name = self._unique_name(name) if self.get(name) else name
            created.append(self.save(Preset(name=name, fields=dict(style.fields))))
        return created

    # ---- internals ----

    def _builtins(self) -> builtins.list[Preset]:
        return self._scan(self.builtin_dir, builtin=True) if self.builtin_dir else []

    def _user_presets(self) -> builtins.list[Preset]:
        return self._scan(self.user_dir, builtin=False)

    def _scan(self, folder: Path, builtin: bool) -> builtins.list[Preset]:
        if not folder.is_dir():
            return []
        presets = [p for p in (self._load(path, builtin) for path in sorted(folder.glob("*.json"))) if p]
        return sorted(self._one_per_name(presets), key=lambda p: p.name.casefold())

    def _one_per_name(self, presets: builtins.list[Preset]) -> builtins.list[Preset]:
        """Names ignore case (as on Windows and macOS): of two files named "Foo" and "foo", the first
        (by file name) is the preset and the other is reported, left as it is."""
        kept: dict[str, Preset] = {}
        for preset in presets:
            first = kept.setdefault(preset.name.casefold(), preset)
            if first is not preset and first.path and preset.path:
                self._problem(
                    f"The preset file {preset.path.name} has the same name as {first.path.name} "
                    f"(“{preset.name}”; preset names ignore case); rename one of them to use both."
                )
        return list(kept.values())

    def _load(self, path: Path, builtin: bool) -> Preset | None:
        try:
            parsed = parse_json(path.read_text(encoding="utf-8-sig"))
            version = schema_version(parsed)
            data: JSONDict = parsed if isinstance(parsed, dict) else {}
        except OSError as exc:
            self._problem(f"The preset file {path.name} could not be read: {exc}")
            return None
        except ValueError as exc:  # bad JSON, bad UTF-8, or PresetError
            reason = str(exc) if isinstance(exc, PresetError) else f"it is not valid JSON ({exc})"
            self._unusable(path, builtin, reason)
            return None
        if version > MIGRATIONS.current:
            return self._load_newer(path, data, version, builtin)
        if version < MIGRATIONS.current and not builtin:  # updated in place, after a backup copy
            try:
                data = upgrade_file(path, data, version, MIGRATIONS).data
            except (MigrationError, OSError) as exc:
                self._problem(
                    f"The preset file {path.name} could not be updated ({exc}); it was left unchanged."
                )
                return None
        try:
            return Preset.from_json(data, builtin=builtin, path=path)
        except ValueError as exc:  # PresetError, or MigrationError for an older built-in
            self._unusable(path, builtin, str(exc))
            return None

    def _load_newer(self, path: Path, data: JSONDict, version: int, builtin: bool) -> Preset | None:
        """A preset from a newer Studio: read as far as possible, never moved or rewritten."""
        try:
            preset = Preset.from_json(data, builtin=builtin, path=path)
        except PresetError as exc:
            self._problem(
                f"The preset file {path.name} was made by a newer Studio (preset format {version}) and "
                f"this version cannot use it ({exc}); it was left as it is."
            )
            return None
        if path not in self._noted_newer:
            self._noted_newer.add(path)
            log.warning(
                "Preset %s is from a newer Studio (format %d): read as far as possible", path, version
            )
        return preset

    def _unusable(self, path: Path, builtin: bool, reason: str) -> None:
        """Report a file this version cannot use; a user's file is moved aside, a built-in left."""
        if builtin:
            self._problem(f"The built-in preset {path.name} is damaged: {reason}.")
            return
        moved = set_aside(path, reason)
        self._problem(
            f"The preset file {path.name} could not be used ({reason}); it was moved aside as {moved.name}."
        )

    def _problem(self, message: str) -> None:
        log.warning("%s", message)
        if message not in self.problems:
            self.problems.append(message)

    def _require(self, name: str) -> Preset:
        preset = self.get(name)
        if preset is None:
            raise PresetError(f"There is no preset named “{name}”.")
        return preset

    def _require_user(self, name: str, action: str) -> Preset:
        preset = self._require(name)
        if preset.builtin:
            raise PresetError(f"“{preset.name}” is a built-in preset and cannot be {action}; duplicate it.")
        return preset

    def _free_path(self, name: str) -> Path:
        stem = slugify(name)
        path, n = self.user_dir / f"{stem}.json", 2
        while path.exists():
            path, n = self.user_dir / f"{stem}-{n}.json", n + 1
        return path

    def _unique_name(self, name: str, suffix: str = "") -> str:
        candidate, n = f"{name}{suffix}", 2
        while self.get(candidate):
            candidate, n = f"{name}{suffix} {n}", n + 1
        return candidate


def _refuse_newer(preset: Preset, action: str) -> None:
    if preset.newer:
        raise PresetError(
            f"“{preset.name}” was saved by a newer version of Studio and cannot be {action} here without "
            "losing what this version does not understand; duplicate it instead."
        )


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise PresetError("A preset needs a name.")
    if len(name) > MAX_NAME or any(c in name for c in "\n\r\t"):
        raise PresetError(f"Preset names must be one line of at most {MAX_NAME} characters.")
    return name
