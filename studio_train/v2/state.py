"""Training state on disk: checkpoints written atomically, resumed exactly.

A checkpoint folder holds `meta.json` (phase, step, counters, optimizer hyper-parameters) and
sharded safetensors of every tensor: model weights, EMA weights, optimizer moments. Randomness
in training is drawn from generators seeded by (seed, phase, step), so nothing else is needed to
continue a run exactly where it stopped. `latest.json` in the checkpoint root names the newest
complete checkpoint; it is replaced (os.replace) only after the folder is complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from studio_train.v2.shards import load_sharded, save_sharded

log = logging.getLogger(__name__)
LATEST = "latest.json"


def module_tensors(prefix: str, module: Any) -> dict[str, Any]:  # noqa: ANN401
    return {f"{prefix}/{k}": v for k, v in module.state_dict().items()}


def optimizer_tensors(prefix: str, opt: Any) -> tuple[dict[str, Any], dict[str, Any]]:  # noqa: ANN401
    """Optimizer state as tensors plus its JSON-able rest (param_groups, non-tensor entries)."""
    import torch

    sd = opt.state_dict()
    tensors: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for pid, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/{pid}/{key}"] = value
            else:
                extra[f"{pid}/{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "extra": extra}


def load_optimizer(opt: Any, prefix: str, tensors: dict[str, Any], meta: dict[str, Any]) -> None:  # noqa: ANN401
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith(prefix + "/"):
            _, pid, key = name.split("/", 2)
            state.setdefault(int(pid), {})[key] = value
    for name, value in meta["extra"].items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def load_module(module: Any, prefix: str, tensors: dict[str, Any]) -> None:  # noqa: ANN401
    sd = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + "/")}
    module.load_state_dict(sd, strict=True)


def write_checkpoint(
    root: Path, name: str, tensors: dict[str, Any], meta: dict[str, Any], keep: int = 2
) -> Path:
    """Write folder `root/name` atomically, point latest.json at it, prune older ones."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    save_sharded(tensors, tmp)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = root / f".{LATEST}.tmp"
    pointer.write_text(json.dumps({"name": name}), encoding="utf-8")
    os.replace(pointer, root / LATEST)
    _prune(root, keep)
    log.info("checkpoint %s written", final)
    return final


def _prune(root: Path, keep: int) -> None:
    done = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    latest = read_latest_name(root)
    for old in done[:-keep]:
        if old.name != latest:
            shutil.rmtree(old, ignore_errors=True)


def read_latest_name(root: Path) -> str | None:
    path = root / LATEST
    if not path.exists():
        return None
    return str(json.loads(path.read_text(encoding="utf-8"))["name"])


def read_checkpoint(root: Path) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(tensors, meta) of the latest complete checkpoint, or None when there is none."""
    name = read_latest_name(root)
    if name is None:
        return None
    folder = root / name
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    return load_sharded(folder), meta
