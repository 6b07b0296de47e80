"""Fetch the pinned npm tarballs into a cache outside git and verify their sha512 integrity."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import subprocess
import tarfile
from pathlib import Path

from studio_train.v2.sets import EmojiSet

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "studio-train"


class FetchError(RuntimeError):
    """A tarball could not be fetched or does not match its pinned hash."""


def integrity_of(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def fetch_tarball(emoji_set: EmojiSet, cache: Path) -> Path:
    """The verified tarball of `emoji_set` in `cache/npm` (`npm pack` when absent)."""
    folder = cache / "npm"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / emoji_set.tarball_name
    if not path.exists():
        spec = f"{emoji_set.package}@{emoji_set.version}"
        log.info("npm pack %s", spec)
        try:
            subprocess.run(
                ["npm", "pack", spec, "--silent"], cwd=folder, check=True, capture_output=True, timeout=600
            )
        except (OSError, subprocess.SubprocessError) as e:
            raise FetchError(f"could not fetch {spec} with npm (is npm installed and online?): {e}") from e
    got = integrity_of(path)
    if got != emoji_set.integrity:
        path.unlink()
        raise FetchError(f"{path.name}: integrity {got} differs from the pinned {emoji_set.integrity}")
    return path


def read_package_json(tarball: Path, member: str) -> dict:
    """One JSON file of an npm tarball (members live under `package/`)."""
    with tarfile.open(tarball, "r:gz") as tar:
        f = tar.extractfile(f"package/{member}")
        if f is None:
            raise FetchError(f"{tarball.name} has no {member}")
        return json.loads(f.read().decode("utf-8"))
