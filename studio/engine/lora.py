"""LoRA / LyCORIS for one job: find the files, check they fit the model, apply them, remove them after.

- **Finding** (:func:`resolve_loras`): the request's ``loras`` and the ``<lora:name:w>`` tags of its
  prompt (``studio.core.prompt_syntax.extract_loras``), in that order. A name is a file stem found in
  ``request.lora_dirs`` (the first folder wins) or a path. Only ``.safetensors`` files are read: a
  pickle (``.ckpt``, ``.pt``, ...) can run code when opened and is refused with a message. The same
  file named twice is applied once with the weights added (LoRA deltas are linear in the weight).
- **Checking** (:func:`check_family`): the LoRA's cross-attention input width (the text feature size
  its ``attn2.to_k``/``to_v`` layers read: 768 SD 1.x, 1024 SD 2.x, 2048 SDXL) must be the model's,
  and an SDXL LoRA (second text encoder) needs an SDXL model. SD3 / Flux LoRAs go to diffusers'
  loaders of those pipelines (a LoRA for another model fails there or changes no layer: refused);
  a GGUF-quantised transformer takes none.
- **Applying** (:func:`applied_loras`, a context manager): diffusers' loaders with peft
  (``load_lora_weights`` converts kohya/A1111 and the LyCORIS formats it supports), ``set_adapters``
  with the weights, then ``fuse_lora`` so denoising runs at the base model's speed. Every weight the
  fuse changes is copied first and written back afterwards, after ``unfuse_lora`` and
  ``unload_lora_weights``: the next job without the LoRA gets the base model's weights bit for bit
  (unfusing alone subtracts in floating point and is not exact).
- **Hash** (:func:`lora_hash`): A1111's ``Lora hashes`` value, the first 12 hex digits of the sha256 of
  the file's tensor data (the bytes after the safetensors header; sd-scripts' ``sshs_model_hash`` when
  the file carries it); ``studio.core.metadata.build_parameters`` writes the ``name: hash`` list.

Every problem is a :class:`LoraError` (an input problem: ``Failed(kind=INPUT)``) naming the file.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.request import GenerationRequest, LoraRef
from studio.engine.dit import is_dit, is_quantized
from studio.engine.pipelines import RequestError

if TYPE_CHECKING:
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

SAFE_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
HASH_LENGTH = 12
ADAPTER_PREFIX = "studio_lora_"
FAMILY_NAMES = {"sd1": "SD 1.x", "sd2": "SD 2.x", "sdxl": "SDXL"}
_WIDTH_FAMILIES = {768: "sd1", 1024: "sd2", 2048: "sdxl"}
_DOWN_SUFFIXES = (".lora_down.weight", ".lora_A.weight", ".lora.down.weight", ".hada_w1_b", ".hada_w2_b")
_CROSS_KEYS = ("attn2_to_k", "attn2_to_v", "attn2.to_k", "attn2.to_v")
_XL_TEXT_MARKERS = ("lora_te2_", "text_encoder_2.", "te2.")


class LoraError(RequestError):
    """A LoRA that cannot be used for this job (missing, pickled, damaged, made for another model)."""


@dataclass(frozen=True)
class ResolvedLora:
    name: str  # as the artist wrote it (A1111's alias in `Lora hashes`)
    path: Path
    weight: float


def requested_loras(request: GenerationRequest) -> tuple[LoraRef, ...]:
    """The request's LoRAs followed by the ``<lora:...>`` tags of its prompt."""
    from studio.core.prompt_syntax import extract_loras

    return tuple(request.loras) + extract_loras(request.prompt)[1]


def resolve_loras(request: GenerationRequest) -> list[ResolvedLora]:
    """Each LoRA of ``request`` as a checked ``.safetensors`` path (one entry per file)."""
    found: dict[Path, ResolvedLora] = {}
    for ref in requested_loras(request):
        path = find_lora(ref.name, request.lora_dirs)
        key = path.resolve()
        previous = found.get(key)
        weight = ref.weight + (previous.weight if previous is not None else 0.0)
        found[key] = ResolvedLora(previous.name if previous else ref.name, path, weight)
    return list(found.values())


def find_lora(name: str, dirs: Sequence[str]) -> Path:
    """The file ``name`` means: a path, or a file stem in one of ``dirs`` (the first one wins)."""
    given = Path(name).expanduser()
    if given.suffix.lower() in (SAFE_SUFFIX, *PICKLE_SUFFIXES) or given.is_absolute() or "/" in name:
        if not given.is_file():
            raise LoraError(f"The LoRA file {name} does not exist.")
        return _safe(given)
    for folder in dirs:
        base = Path(folder).expanduser()
        for suffix in (SAFE_SUFFIX, *PICKLE_SUFFIXES):
            candidate = base / f"{name}{suffix}"
            if candidate.is_file():
                return _safe(candidate)
    where = ", ".join(str(d) for d in dirs) if dirs else "no LoRA folder is set"
    raise LoraError(
        f"The LoRA '{name}' was not found ({where}). Check its name or the LoRA folder in settings."
    )


def _safe(path: Path) -> Path:
    if path.suffix.lower() != SAFE_SUFFIX:
        raise LoraError(
            f"{path.name} is a pickle file: Studio loads LoRAs only from .safetensors files, because "
            "opening a pickle can run any code in it. Use the .safetensors version of this LoRA."
        )
    return path


def read_shapes(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """The tensor shapes and metadata of a LoRA file, or a :class:`LoraError` saying why not."""
    from studio.engine.loading.checkpoint import read_header
    from studio.engine.loading.errors import ModelLoadError

    try:
        ckpt = read_header(path)
    except ModelLoadError as exc:
        raise LoraError(f"The LoRA {path.name} cannot be read: {exc}") from exc
    except OSError as exc:
        raise LoraError(f"The LoRA {path.name} cannot be read ({exc.strerror or exc}).") from exc
    return ckpt.shapes, ckpt.metadata


def lora_family(shapes: dict[str, tuple[int, ...]]) -> tuple[int | None, bool]:
    """(the cross-attention input width the LoRA was made for or None, has SDXL text-encoder-2 keys)."""
    width = None
    for key, shape in shapes.items():
        if any(c in key for c in _CROSS_KEYS) and key.endswith(_DOWN_SUFFIXES) and len(shape) >= 2:
            width = int(shape[1])
            break
    xl_text = any(key.startswith(_XL_TEXT_MARKERS) for key in shapes)
    return width, xl_text


def check_family(lora: ResolvedLora, shapes: dict[str, tuple[int, ...]], family: str, cross_dim: int) -> None:
    """Refuse a LoRA made for another model family (SD 1.x on SDXL and vice versa), naming both."""
    width, xl_text = lora_family(shapes)
    model_family = FAMILY_NAMES.get(family, family or "this model")
    made_for: str | None = None
    if width is not None and width != cross_dim:
        made_for = FAMILY_NAMES.get(_WIDTH_FAMILIES.get(width, ""), f"models with {width}-wide text features")
    elif xl_text and family != "sdxl":
        made_for = FAMILY_NAMES["sdxl"]
    if made_for is not None:
        raise LoraError(
            f"The LoRA {lora.name} was made for {made_for} models; the loaded model is {model_family}. "
            f"Choose a LoRA made for {model_family}, or a {made_for} model."
        )


# ---------------------------------------------------------------------------------------- hashes
_hashes: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def lora_hash(path: Path) -> str:
    """A1111's short LoRA hash (12 hex digits of the sha256 of the tensor data; cached in memory)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
    value = _payload_sha256(path)[:HASH_LENGTH]
    with _hash_lock:
        _hashes[key] = value
    return value


def _payload_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        header_len = int.from_bytes(fh.read(8), "little")
        digest = hashlib.sha256()
        fh.seek(8 + header_len)
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def known_hash(path: Path, metadata: dict[str, str]) -> str:
    """sd-scripts stores the same hash in the file (``sshs_model_hash``); A1111 prefers it."""
    stored = metadata.get("sshs_model_hash", "").strip().lower()
    if len(stored) >= HASH_LENGTH and all(c in "0123456789abcdef" for c in stored):
        return stored[:HASH_LENGTH]
    return lora_hash(path)


# ---------------------------------------------------------------------------------------- apply
@dataclass
class AppliedLoras:
    """What a job used: (name as written, A1111 short hash) per LoRA, for the metadata."""

    hashes: list[tuple[str, str]]


@contextmanager
def applied_loras(
    pipe: Pipeline, family: str, loras: Sequence[ResolvedLora], *, fuse: bool = True
) -> Iterator[AppliedLoras]:
    """Apply ``loras`` to ``pipe`` (and every pipeline sharing its modules) for the ``with`` block."""
    if not loras:
        yield AppliedLoras([])
        return
    hashes = []
    for lora in loras:
        shapes, metadata = read_shapes(lora.path)
        if is_dit(family):  # SD3 / Flux: diffusers' loader converts or refuses the file (`_load`)
            _check_not_quantized(pipe, lora)
        else:
            check_family(lora, shapes, family, int(pipe.unet.config.cross_attention_dim))
        alias = lora.name.replace(":", "").replace(",", "")  # as A1111 writes names in `Lora hashes`
        hashes.append((alias, known_hash(lora.path, metadata)))
    names: list[str] = []
    backups: list[tuple[Any, Any]] = []
    try:
        for index, lora in enumerate(loras):
            adapter = f"{ADAPTER_PREFIX}{index}"
            _load(pipe, lora, adapter)
            names.append(adapter)
        pipe.set_adapters(names, [float(lora.weight) for lora in loras])
        if fuse:
            backups = _backup_base_weights(pipe)
            pipe.fuse_lora(adapter_names=names, lora_scale=1.0)
            # diffusers keeps the fused weights when the adapters are unloaded: the steps then run on a
            # plain model (no peft wrappers), and the backup alone puts the base weights back after.
            pipe.unload_lora_weights()
        log.info("LoRAs applied: %s", ", ".join(f"{x.name}:{x.weight:g}" for x in loras))
        yield AppliedLoras(hashes)
    finally:
        _remove(pipe, backups)


def _load(pipe: Pipeline, lora: ResolvedLora, adapter: str) -> None:
    try:
        pipe.load_lora_weights(str(lora.path), adapter_name=adapter)
    except Exception as exc:
        if isinstance(exc, MemoryError):
            raise
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LoraError(
            f"The LoRA {lora.name} could not be applied to this model ({text[:200]}). It may be made "
            "for another model or in a format Studio cannot read."
        ) from exc
    if not _adapter_modules(pipe, adapter):
        raise LoraError(
            f"The LoRA {lora.name} changes no layer of this model: it is made for another model or is "
            "in a format Studio cannot read."
        )


def _check_not_quantized(pipe: Pipeline, lora: ResolvedLora) -> None:
    """A GGUF-quantised transformer cannot take a fused LoRA (its weights are packed blocks)."""
    if is_quantized(pipe):
        raise LoraError(
            f"The LoRA {lora.name} cannot be applied to a GGUF-quantised transformer. Use the model's "
            ".safetensors (unquantised) transformer for LoRAs, or run without the LoRA."
        )


def _components(pipe: Pipeline) -> list[Any]:
    return [
        m
        for name in ("unet", "transformer", "text_encoder", "text_encoder_2")
        if (m := getattr(pipe, name, None)) is not None
    ]


def _lora_layers(pipe: Pipeline) -> list[Any]:
    from peft.tuners.lora import LoraLayer

    return [m for comp in _components(pipe) for m in comp.modules() if isinstance(m, LoraLayer)]


def _adapter_modules(pipe: Pipeline, adapter: str) -> list[Any]:
    found = []
    for layer in _lora_layers(pipe):
        groups = (layer.lora_A, getattr(layer, "lora_embedding_A", {}))
        if any(adapter in group for group in groups):
            found.append(layer)
    return found


def _backup_base_weights(pipe: Pipeline) -> list[tuple[Any, Any]]:
    """(base layer, copy of its weight) for every layer a fuse changes (CPU copies: no extra VRAM)."""
    backups = []
    for layer in _lora_layers(pipe):
        base = layer.get_base_layer()
        backups.append((base, base.weight.detach().to("cpu", copy=True)))
    return backups


def _remove(pipe: Pipeline, backups: list[tuple[Any, Any]]) -> None:
    """Take every LoRA off ``pipe`` and put the base weights back exactly (the backup, not an unfuse:
    subtracting in floating point would not give the same bits)."""
    import torch

    try:
        pipe.unload_lora_weights()  # nothing left to unload after a fuse
    finally:
        with torch.no_grad():
            for base, weight in backups:
                base.weight.copy_(weight)
