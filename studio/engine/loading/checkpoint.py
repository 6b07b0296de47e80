"""Single-file checkpoints in the original LDM / A1111 / Civitai layout.

Reading goes in steps so that a bad file is refused before any big allocation:
1. :func:`read_header` parses a ``.safetensors`` header by hand (8-byte length + JSON), which
   tells empty, truncated and corrupt files apart and yields every tensor's shape without loading it;
2. :mod:`studio.engine.loading.detect` decides what the file is from those shapes;
3. only then are the tensors loaded (:func:`load_tensors`) and :mod:`studio.engine.loading.build`
   assembles the pipeline (:mod:`studio.engine.loading.single_file` runs the three steps).

Pickled ``.ckpt`` files are only opened with ``torch.load(weights_only=True)``: a file that needs
arbitrary code to unpickle is refused.

Network: none. This module only reads files; it imports nothing else of the loader but its errors.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine.loading.errors import ModelLoadError, short

log = logging.getLogger(__name__)

_DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}  # fmt: skip
_MAX_HEADER = 100 * 1024 * 1024


@dataclass
class CheckpointFile:
    """What was read from a checkpoint file: shapes always, tensors once loaded."""

    path: Path
    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str] = field(default_factory=dict)
    global_step: int | None = None
    tensors: dict[str, Any] | None = None


def read_header(path: Path) -> CheckpointFile:
    """Validate a .safetensors file's header and return its tensor shapes (no tensor data read)."""
    size = _file_size(path)
    if size < 8:
        raise ModelLoadError(
            f"{path.name} is too small ({size} bytes) to be a model: the download or copy did not finish."
        )
    with open(path, "rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        if header_len > _MAX_HEADER:
            raise ModelLoadError(_not_safetensors(path))
        if 8 + header_len > size:
            raise ModelLoadError(_truncated(path))
        raw = fh.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelLoadError(_not_safetensors(path)) from exc
    if not isinstance(header, dict):
        raise ModelLoadError(_not_safetensors(path))
    metadata = header.pop("__metadata__", None) or {}
    shapes, data_end = _parse_entries(path, header)
    if 8 + header_len + data_end > size:
        raise ModelLoadError(_truncated(path))
    if not shapes:
        raise ModelLoadError(f"{path.name} contains no weights at all; it is not a Stable Diffusion model.")
    meta = {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
    return CheckpointFile(path=path, shapes=shapes, metadata=meta)


def _parse_entries(path: Path, header: dict) -> tuple[dict[str, tuple[int, ...]], int]:
    shapes: dict[str, tuple[int, ...]] = {}
    data_end = 0
    for name, entry in header.items():
        try:
            shape = tuple(int(d) for d in entry["shape"])
            start, end = (int(o) for o in entry["data_offsets"])
            itemsize = _DTYPE_SIZES.get(str(entry["dtype"]), 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(_not_safetensors(path)) from exc
        count = 1
        for d in shape:
            count *= d
        if end < start or (itemsize and end - start != count * itemsize):
            raise ModelLoadError(_not_safetensors(path))
        shapes[str(name)] = shape
        data_end = max(data_end, end)
    return shapes, data_end


def load_tensors(ckpt: CheckpointFile) -> dict[str, Any]:
    """Load the tensors of a .safetensors file whose header :func:`read_header` already checked."""
    from safetensors.torch import load_file

    try:
        return load_file(str(ckpt.path), device="cpu")
    except Exception as exc:  # SafetensorError, OSError
        if isinstance(exc, MemoryError):
            raise
        raise ModelLoadError(
            f"{ckpt.path.name} could not be read ({short(exc)}). The file is damaged; download it again."
        ) from exc


def read_pickle_checkpoint(path: Path) -> CheckpointFile:
    """Open a .ckpt/.pt with ``weights_only=True`` only; refuse code-bearing pickles."""
    import pickle

    import torch

    if _file_size(path) == 0:
        raise ModelLoadError(f"{path.name} is empty (0 bytes): the download or copy did not finish.")
    try:
        data = _torch_load_weights_only(torch, path)
    except pickle.UnpicklingError as exc:
        if not _needs_code(exc):
            raise ModelLoadError(
                f"{path.name} could not be read: it is damaged or not a model checkpoint."
            ) from exc
        log.info("Refusing %s: %s", path, exc)
        raise ModelLoadError(
            f"{path.name} contains pickled Python code, not just weights, and Studio refuses to run it "
            "(such files can carry malware). Convert it to .safetensors with a trusted tool, or download "
            "the .safetensors version of this model."
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise ModelLoadError(
            f"{path.name} could not be read ({short(exc)}): it is damaged or not a model checkpoint."
        ) from exc
    return _from_state_dict(path, data)


def _needs_code(exc: BaseException) -> bool:
    """torch's weights-only unpickler refused a global/class (code), rather than hitting garbage."""
    text = str(exc).lower()
    return "weights only" in text and ("unsupported global" in text or "unsupported class" in text)


def _torch_load_weights_only(torch: Any, path: Path) -> Any:
    """``torch.load(weights_only=True)``, memory-mapped when the file's format allows it."""
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:  # legacy (non-zip) format cannot be memory-mapped
        log.debug("mmap load of %s failed (%s); reading it whole", path, exc)
        return torch.load(str(path), map_location="cpu", weights_only=True)


def _from_state_dict(path: Path, data: Any) -> CheckpointFile:
    import torch

    if not isinstance(data, dict):
        raise ModelLoadError(
            f"{path.name} does not contain model weights; it is not a Stable Diffusion checkpoint."
        )
    global_step = data.get("global_step")
    while isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    tensors = {str(k): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ModelLoadError(f"{path.name} contains no weights; it is not a Stable Diffusion checkpoint.")
    return CheckpointFile(
        path=path,
        shapes={k: tuple(v.shape) for k, v in tensors.items()},
        global_step=int(global_step) if isinstance(global_step, int) else None,
        tensors=tensors,
    )


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise ModelLoadError(f"{path.name} cannot be read: {short(exc)}") from exc


def _truncated(path: Path) -> str:
    return (
        f"{path.name} is incomplete (the file is shorter than its own header says): the download or "
        "copy was cut off. Download it again."
    )


def _not_safetensors(path: Path) -> str:
    return (
        f"{path.name} is not a valid .safetensors file (its header is damaged or it is another kind of "
        "file renamed). Download it again."
    )


def read_gguf_header(path: Path) -> CheckpointFile:
    """Tensor names and (logical, PyTorch-order) shapes of a GGUF file (quantised SD3 / Flux
    transformers); its tensors are only ever loaded by diffusers' GGUF loader."""
    try:
        from gguf import GGUFReader
    except ImportError as exc:
        raise ModelLoadError(
            f"{path.name} is a GGUF file; reading it needs the Python package gguf, which is not "
            "installed. Reinstall Studio (or `pip install gguf`)."
        ) from exc
    try:
        reader = GGUFReader(str(path))
        shapes = {t.name: tuple(int(d) for d in reversed(t.shape.tolist())) for t in reader.tensors}
    except Exception as exc:  # ValueError / struct errors / numpy errors on a damaged or non-GGUF file
        raise ModelLoadError(
            f"{path.name} could not be read as a GGUF file ({short(exc)}): it is damaged, incomplete "
            "or not a GGUF model."
        ) from exc
    if not shapes:
        raise ModelLoadError(f"{path.name} contains no weights at all; it is not a model.")
    return CheckpointFile(path=path, shapes=shapes)


def read_checkpoint(path: Path) -> CheckpointFile:
    """Header (safetensors) or full weights-only load (.ckpt/.pt/.pth/.bin)."""
    if path.suffix.lower() == ".safetensors":
        if _file_size(path) == 0:
            raise ModelLoadError(f"{path.name} is empty (0 bytes): the download or copy did not finish.")
        return read_header(path)
    if path.suffix.lower() == ".gguf":
        return read_gguf_header(path)
    if path.suffix.lower() in (".ckpt", ".pt", ".pth", ".bin"):
        return read_pickle_checkpoint(path)
    raise ModelLoadError(
        f"{path.name} is not a model file Studio can open. Use a .safetensors (or .ckpt) checkpoint or a "
        "diffusers model folder."
    )
