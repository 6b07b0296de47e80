"""Tensors saved as sharded safetensors files of at most `max_bytes` each (they travel back from
a GPU machine in pieces), with a JSON index. A tensor larger than a shard is split by rows of its
flattened form and joined on load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_SHARD_BYTES = 16 * 1024 * 1024
INDEX = "index.json"
HEADER_RESERVE = 256 * 1024


def save_sharded(tensors: dict[str, Any], folder: Path, max_bytes: int = MAX_SHARD_BYTES) -> list[Path]:
    """Write `tensors` (name -> CPU tensor) into `folder`; returns the shard paths."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    budget = max_bytes - HEADER_RESERVE  # each file also holds a JSON header naming its tensors
    pieces = dict(_split_large(tensors, budget))
    shards: list[dict[str, Any]] = [{}]
    size = 0
    for name, t in pieces.items():
        nbytes = t.numel() * t.element_size()
        if shards[-1] and size + nbytes > budget:
            shards.append({})
            size = 0
        shards[-1][name] = t
        size += nbytes
    files, where = [], {}
    for i, shard in enumerate(shards):
        path = folder / f"shard-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(path))
        files.append(path)
        where.update(dict.fromkeys(shard, path.name))
    shapes = {n: list(t.shape) for n, t in tensors.items()}
    (folder / INDEX).write_text(json.dumps({"weight_map": where, "shapes": shapes}), encoding="utf-8")
    return files


def _split_large(tensors: dict[str, Any], max_bytes: int):  # noqa: ANN202
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        nbytes = t.numel() * t.element_size()
        if nbytes <= max_bytes:
            yield name, t
            continue
        flat = t.reshape(-1)
        per = max(1, max_bytes // t.element_size())
        for k, start in enumerate(range(0, flat.numel(), per)):
            yield f"{name}@@{k}", flat[start : start + per].clone()


def load_sharded(folder: Path) -> dict[str, Any]:
    """The tensors saved by `save_sharded`, large ones joined again."""
    import torch
    from safetensors.torch import load_file

    index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    raw: dict[str, Any] = {}
    for file in sorted(set(index["weight_map"].values())):
        raw.update(load_file(str(folder / file)))
    out: dict[str, Any] = {}
    parts: dict[str, list[tuple[int, Any]]] = {}
    for name, t in raw.items():
        if "@@" in name:
            base, k = name.rsplit("@@", 1)
            parts.setdefault(base, []).append((int(k), t))
        else:
            out[name] = t
    for base, chunks in parts.items():
        flat = torch.cat([t for _, t in sorted(chunks, key=lambda c: c[0])])
        out[base] = flat.view(index["shapes"][base])
    return out
