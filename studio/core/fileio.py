"""Safe file writes: every file Studio writes goes through here (temp file + fsync + rename).

Also the shared handling of versioned JSON files (settings, presets): `Migrations` holds the small
registered steps from one schema version to the next, `upgrade_file` applies them to an older file
after keeping a backup copy next to it. Files from a newer Studio are never migrated or moved here:
the callers read what they know of them and leave them in place.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

JSONDict = dict[str, object]
"""A parsed JSON object (settings, presets, request fields, PNG metadata): narrow values with isinstance."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def set_aside(path: Path, reason: str) -> Path:
    """Move an unreadable file out of the way (never overwrite or delete it); return where it went."""
    path = Path(path)
    target = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    os.replace(path, target)
    log.warning("Set aside %s as %s: %s", path, target.name, reason)
    return target


# ---- versioned JSON files: schema migrations (napari style) ----

Migration = Callable[[JSONDict], JSONDict]


class MigrationError(ValueError):
    """A versioned file could not be brought up to date; the file and its data were left unchanged."""


@dataclass(frozen=True)
class Upgrade:
    """An older file brought up to the current version (and written back, next to a backup copy)."""

    data: JSONDict
    from_version: int
    backup: Path


class Migrations:
    """Small registered steps that update one kind of versioned JSON document.

    `@MIGRATIONS.migrator(1, 2)` registers a function taking the version-1 dict and returning the
    version-2 dict (it may change its argument); steps are chained up to `current`. They work on a
    deep copy, so a step that raises leaves the caller's data exactly as it was: the whole migration
    is rolled back.
    """

    def __init__(self, kind: str, current: int, key: str = "version") -> None:
        self.kind = kind
        self.current = current
        self.key = key
        self._steps: dict[int, tuple[int, Migration]] = {}

    def migrator(self, from_version: int, to_version: int) -> Callable[[Migration], Migration]:
        if not from_version < to_version <= self.current:
            raise ValueError(
                f"bad {self.kind} migration {from_version} -> {to_version} (current {self.current})"
            )
        if from_version in self._steps:
            raise ValueError(f"a {self.kind} migration from version {from_version} is already registered")

        def register(func: Migration) -> Migration:
            self._steps[from_version] = (to_version, func)
            return func

        return register

    def migrate(self, data: JSONDict, from_version: int) -> JSONDict:
        """`data` (version `from_version`) updated to `current`; MigrationError if a step is missing or fails."""
        version, result = from_version, copy.deepcopy(data)
        while version < self.current:
            if version not in self._steps:
                raise MigrationError(f"there is no way to update a {self.kind} file from version {version}")
            to_version, step = self._steps[version]
            try:
                result = step(result)
            except Exception as exc:
                raise MigrationError(
                    f"updating the {self.kind} file from version {version} to {to_version} failed: {exc}"
                ) from exc
            if not isinstance(result, dict):
                raise MigrationError(
                    f"the {self.kind} migration {version} -> {to_version} returned no object"
                )
            result[self.key] = version = to_version
        return result


def upgrade_file(path: Path, data: JSONDict, version: int, migrations: Migrations) -> Upgrade:
    """Migrate an older file: a backup copy first, then the steps, then the result written atomically.

    On MigrationError the file is left exactly as it was (its backup copy stays next to it).
    """
    path = Path(path)
    backup = backup_copy(path, f"v{version}")
    migrated = migrations.migrate(data, version)
    atomic_write_text(path, json.dumps(migrated, indent=2, ensure_ascii=False) + "\n")
    log.info("Updated %s from version %d to %d (backup: %s)", path, version, migrations.current, backup.name)
    return Upgrade(migrated, version, backup)


def backup_copy(path: Path, tag: str) -> Path:
    """Copy `path` to `NAME.<tag>-backup` (then `-2`, `-3`, ...) unless an identical copy is there."""
    path = Path(path)
    content = path.read_bytes()
    target, n = path.with_name(f"{path.name}.{tag}-backup"), 2
    while target.exists():
        with contextlib.suppress(OSError):
            if target.read_bytes() == content:
                return target
        target, n = path.with_name(f"{path.name}.{tag}-backup-{n}"), n + 1
    atomic_write_bytes(target, content)
    return target
