"""Safe file writes: every file Studio writes goes through here (temp file + fsync + rename).

Temp files are named `.NAME.<pid>-<random>.tmp` next to their target with the permissions open()
would give (0o666 less the umask); `clean_stale_temps` removes those of dead processes at start-up.
`atomic_write_new`/`write_unique` never replace an existing file (results, `studio-cli --out`).

Also the shared handling of versioned JSON files (settings, presets): `Migrations` holds the small
registered steps from one schema version to the next, `upgrade_file` applies them to an older file
after keeping a backup copy next to it. Files from a newer Studio are never migrated or moved here:
the callers read what they know of them and leave them in place.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import logging
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

JSONDict = dict[str, object]
"""A parsed JSON object (settings, presets, request fields, PNG metadata): narrow values with isinstance."""


TEMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder (fsync, then rename over it).

    A new file gets the permissions open() would give it (0o666 less the umask); a file written over
    keeps its own permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, data)
    try:
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # replacing a file: keep its mode
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_new(path: Path, data: bytes) -> None:
    """Like atomic_write_bytes, but FileExistsError if `path` exists: the complete file appears under
    its name at once (hard link of the finished temp file), and an existing file is never replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, data)
    try:
        _link_new(tmp, path)
    finally:
        _remove(tmp)


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            raise
        if path.exists():  # no hard links here (FAT, some network shares): check, then rename
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(tmp, path)


def write_unique(folder: Path, names: Iterable[str], data: bytes) -> Path:
    """Write `data` under the first of `names` that is free in `folder` (atomic_write_new); the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(folder / "new", data)  # written once, then linked under the first free name
    try:
        for name in names:
            try:
                _link_new(tmp, folder / name)
            except FileExistsError:
                continue
            return folder / name
    finally:
        _remove(tmp)
    raise FileExistsError(errno.EEXIST, "No free file name", str(folder))


def numbered_names(stem: str, suffix: str, first: int = 1, limit: int = 10_000) -> Iterator[str]:
    """`stem+suffix`, then `stem-<first>+suffix`, `stem-<first+1>+suffix`, ... (`limit` names in all)."""
    yield f"{stem}{suffix}"
    for n in range(first, first + limit - 1):
        yield f"{stem}-{n}{suffix}"


def _write_temp(path: Path, data: bytes) -> Path:
    """A complete, fsynced temp file next to `path`, named `.NAME.<pid>-<random>.tmp` (the pid lets a
    later start tell a dead process's leftover from a live one's write in progress)."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists (on Windows, where this cannot be asked cheaply: assumed alive)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TEMP_NAME = re.compile(r"^\..+\.(\d+)-[0-9a-f]+\.tmp$")


def clean_stale_temps(folder: Path) -> int:
    """Delete the temp files that dead Studio processes left in `folder` (not in subfolders); the count.

    A temp file whose writer is still running is kept: it becomes a real file in a moment."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or pid_alive(int(match.group(1))):
            continue
        try:
            entry.unlink()
        except OSError as exc:
            log.warning("Could not remove the leftover temp file %s: %s", entry, exc)
            continue
        removed += 1
    if removed:
        log.info("Removed %d leftover temp file(s) in %s", removed, folder)
    return removed


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
