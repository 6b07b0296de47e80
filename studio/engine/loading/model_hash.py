"""A1111-style "Model hash": the first 10 hex digits of a file's sha256, cached on disk.

Hashing a multi-GB checkpoint takes seconds, so results are kept in a small JSON file in the user
data dir (``<data>/cache/model_hashes.json``), keyed by absolute path + mtime + size. Pure Python.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

from studio.core.fileio import atomic_write_text
from studio.core.paths import user_dirs

log = logging.getLogger(__name__)

HASH_LENGTH = 10
_CHUNK = 1 << 20
_lock = threading.Lock()


def hash_cache_file() -> Path:
    return user_dirs().data / "cache" / "model_hashes.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}"


def _read_cache(cache: Path) -> dict[str, str]:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("Ignoring unreadable model hash cache %s", cache)
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def is_hash_cached(path: Path | None, cache: Path | None = None) -> bool:
    """True when :func:`model_hash_for` will answer without reading the file."""
    if path is None or not path.is_file():
        return True
    with _lock:
        return _key(path) in _read_cache(cache or hash_cache_file())


def model_hash_for(path: Path | None, cache: Path | None = None) -> str:
    """A1111 model hash of ``path`` ("" when there is no file). Cached by path+mtime+size."""
    if path is None or not path.is_file():
        return ""
    cache = cache or hash_cache_file()
    key = _key(path)
    with _lock:
        entries = _read_cache(cache)
        if key in entries:
            return entries[key][:HASH_LENGTH]
    full = sha256_file(path)
    with _lock:
        entries = _read_cache(cache)
        live = {k for k in entries if Path(k.split("|", 1)[0]).exists()}
        entries = {k: v for k, v in entries.items() if k in live}
        entries[key] = full
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache, json.dumps(entries, indent=1, sort_keys=True))
        except OSError:
            log.warning("Could not write the model hash cache %s", cache, exc_info=True)
    return full[:HASH_LENGTH]
