"""A request's prompts -> the text conditioning a pipeline is called with, as AUTOMATIC1111 builds it.

- `<lora:...>` tags are taken out of the prompt (`core.prompt_syntax.extract_loras`; the LoRAs
  themselves are applied elsewhere), the rest is parsed into (text, weight) chunks
  (`core.prompt_syntax.parse_attention`: `(a:1.2)`, `(a)`, `[a]`, `BREAK`).
- The tokens are laid out in windows of `model_max_length - 2` tokens (75 for Stable Diffusion, 30
  for studio-mini), each encoded on its own as BOS + window + EOS + padding and the results joined
  along the sequence axis: long prompts are never cut. A window that fills up moves the words after
  its last comma (within 20 tokens) to the next one, and `BREAK` starts a new window, as in A1111.
  The prompt and the negative prompt are padded to the same number of windows with the encoding of
  an empty prompt.
- Token weights multiply the encoder's hidden states, then each window's original mean is restored
  (A1111's `process_tokens`).
- Clip skip (A1111: 1 = the last layer): SD 1.x/2.x take `hidden_states[-clip_skip]` through the
  text model's final layer norm (diffusers' SD 2.x text encoders already end at OpenCLIP's
  penultimate layer); SDXL takes `hidden_states[-(clip_skip + 1)]` of both encoders without the norm
  (diffusers' convention: the penultimate layer by default), the pooled output from the second
  encoder's first window; an empty SDXL negative prompt is zeros (`force_zeros_for_empty_prompt`).
- Textual inversion: the embeddings whose file name (`NAME.pt`/`.bin`/`.safetensors` in the request's
  `embedding_dirs`) appears as a word in a prompt are loaded for the job with diffusers'
  `load_textual_inversion` (SDXL: `clip_l` and `clip_g` into their own encoders) and unloaded after it.

A plain prompt (no weights, `BREAK`, embeddings; one window) with clip skip 1 gives exactly the
tensors diffusers' own `encode_prompt` gives.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from studio.core.prompt_syntax import BREAK, BREAK_WEIGHT, extract_loras, parse_attention

if TYPE_CHECKING:
    import torch

    from studio.core.request import GenerationRequest
    from studio.engine.aliases import Pipeline

COMMA_BACKTRACK = 20  # A1111's `comma_padding_backtrack` default
EMBEDDING_SUFFIXES = (".safetensors", ".pt", ".bin")
TI_HASH_LENGTH = 12  # A1111's `TI hashes` short hash: the first 12 hex digits of the file's sha256


class _Tokenizer(Protocol):
    model_max_length: int
    bos_token_id: int | None
    eos_token_id: int | None
    pad_token_id: int | None

    def get_vocab(self) -> dict[str, int]: ...
    def __call__(self, text: str, **kwargs: object) -> dict[str, list[int]]: ...


class EmbeddingError(ValueError):
    """A textual inversion embedding cannot be used (corrupt, another model family, unknown format)."""


@dataclass(frozen=True)
class Embedding:
    """One embedding file read from disk: its vectors per encoder ("" = the only one; SDXL files have
    "clip_l" and "clip_g")."""

    name: str
    path: Path
    vectors: dict[str, torch.Tensor]
    short_hash: str


@dataclass
class Conditioning:
    """The pipeline keyword arguments for the prompts and the embeddings that went into them."""

    kwargs: dict[str, object] = field(default_factory=dict)
    embedding_hashes: dict[str, str] = field(default_factory=dict)  # name -> A1111 short hash


@dataclass
class _Window:
    tokens: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Encoder:
    """One text encoder with its tokenizer and the token names of the embeddings loaded into it."""

    tokenizer: object
    model: object
    xl: bool


# ---------------------------------------------------------------------------------------------- API
def chunks_prompts(pipe: Pipeline) -> bool:
    """Whether `pipe`'s prompts go through this module (so no text is ever cut)."""
    return bool(_encoders(pipe))


@contextmanager
def prompt_conditioning(pipe: Pipeline, request: GenerationRequest) -> Iterator[Conditioning]:
    """The conditioning of `request` for `pipe`, with the request's embeddings loaded meanwhile.

    Raises `EmbeddingError` for an embedding that cannot be used. The embeddings are unloaded on
    exit, so the next job sees the model as it was."""
    prompt, _loras = extract_loras(request.prompt)
    negative = request.negative_prompt
    embeddings = find_embeddings(request.embedding_dirs, (prompt, negative))
    loaded = _load_embeddings(pipe, embeddings)
    try:
        kwargs = encode_prompts(pipe, prompt, negative, request.clip_skip, loaded)
        yield Conditioning(kwargs, {e.name: e.short_hash for e in embeddings})
    finally:
        _unload_embeddings(pipe, loaded)


def encode_prompts(
    pipe: Pipeline,
    prompt: str,
    negative: str,
    clip_skip: int = 1,
    embeddings: dict[str, list[str]] | None = None,
) -> dict[str, object]:
    """`prompt_embeds`, `negative_prompt_embeds` (+ SDXL's pooled pair) for `prompt` and `negative`.

    `embeddings` maps an embedding name used in the text to its token names (already loaded)."""
    import torch

    encoders = _encoders(pipe)
    if not encoders:
        raise ValueError("This pipeline has no text encoder.")
    names = embeddings or {}
    xl = encoders[0].xl
    with torch.inference_mode():
        pos, pooled = _encode_text(encoders, prompt, clip_skip, names)
        zero_negative = xl and not negative and _forces_zeros(pipe)
        if zero_negative:
            neg, neg_pooled = torch.zeros_like(pos), torch.zeros_like(pooled) if pooled is not None else None
        else:
            neg, neg_pooled = _encode_text(encoders, negative, clip_skip, names)
        if pos.shape[1] != neg.shape[1]:
            pos, neg = _pad_pair(encoders, pos, neg, clip_skip, zero_negative)
    kwargs: dict[str, object] = {"prompt_embeds": pos, "negative_prompt_embeds": neg}
    if xl:
        kwargs["pooled_prompt_embeds"] = pooled
        kwargs["negative_pooled_prompt_embeds"] = neg_pooled
    return kwargs


def windows(
    tokenizer: object, text: str, embeddings: dict[str, list[str]] | None = None
) -> list[tuple[list[int], list[float]]]:
    """`text`'s token ids and weights per window, each BOS + window + EOS + padding (A1111's
    `tokenize_line`)."""
    tok = _tokenizer_of(tokenizer)
    length = int(tok.model_max_length) - 2
    comma = tok.get_vocab().get(",</w>")
    done: list[_Window] = []
    current = _Window()
    last_comma = -1

    def next_window() -> None:
        nonlocal current, last_comma
        done.append(current)
        current, last_comma = _Window(), -1

    for text_part, weight in parse_attention(text):
        if text_part == BREAK and weight == BREAK_WEIGHT:
            next_window()
            continue
        ids = _token_ids(tok, _with_embedding_tokens(text_part, embeddings or {}))
        for token in ids:
            if token == comma:
                last_comma = len(current.tokens)
            elif (
                len(current.tokens) == length
                and last_comma != -1
                and len(current.tokens) - last_comma <= COMMA_BACKTRACK
            ):
                cut = last_comma + 1
                moved = _Window(current.tokens[cut:], current.weights[cut:])
                current.tokens, current.weights = current.tokens[:cut], current.weights[:cut]
                next_window()
                current = moved
            if len(current.tokens) == length:
                next_window()
            current.tokens.append(token)
            current.weights.append(weight)
    if current.tokens or not done:
        done.append(current)
    bos, eos = _special_ids(tok)
    pad = int(tok.pad_token_id) if tok.pad_token_id is not None else eos
    out = []
    for window in done:
        fill = length - len(window.tokens)
        out.append(([bos, *window.tokens, eos] + [pad] * fill, [1.0, *window.weights] + [1.0] * (fill + 1)))
    return out


# ------------------------------------------------------------------------------------ embeddings
def find_embeddings(dirs: Sequence[str], texts: Sequence[str]) -> list[Embedding]:
    """The embeddings in `dirs` (searched recursively, first folder first) whose names appear as a
    word in any of `texts` (case-insensitive, as the CLIP tokenizer reads it)."""
    found: dict[str, Path] = {}
    for folder in dirs:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*"), key=lambda p: str(p).lower()):
            if path.suffix.lower() in EMBEDDING_SUFFIXES and path.is_file():
                found.setdefault(path.stem.lower(), path)
    used = [path for key, path in found.items() if any(_name_pattern(key).search(t) for t in texts)]
    return [read_embedding(path) for path in used]


def read_embedding(path: Path) -> Embedding:
    """An A1111 / diffusers / kohya embedding file; pickles are read with `weights_only=True`."""
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            data: object = load_file(str(path), device="cpu")
        else:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EmbeddingError(
            f"The embedding {path.name} cannot be read ({type(exc).__name__}): the file is damaged or "
            "not a textual inversion embedding."
        ) from exc
    vectors = _vectors(data)
    if vectors is None:
        raise EmbeddingError(f"The embedding {path.name} is not in a textual inversion format Studio reads.")
    return Embedding(path.stem, path, vectors, _sha256(path)[:TI_HASH_LENGTH])


def _vectors(data: object) -> dict[str, torch.Tensor] | None:
    import torch

    def as_2d(value: object) -> torch.Tensor | None:
        if not isinstance(value, torch.Tensor) or value.ndim not in (1, 2) or not value.is_floating_point():
            return None
        tensor = value.detach().float()
        return tensor if tensor.ndim == 2 else tensor.unsqueeze(0)

    if isinstance(data, torch.Tensor):
        single = as_2d(data)
        return None if single is None else {"": single}
    if not isinstance(data, dict):
        return None
    if "clip_l" in data and "clip_g" in data:
        pair = {key: as_2d(data[key]) for key in ("clip_l", "clip_g")}
        return (
            None
            if any(v is None for v in pair.values())
            else {k: v for k, v in pair.items() if v is not None}
        )
    value: object = None
    if isinstance(data.get("string_to_param"), dict):  # A1111 .pt
        value = data["string_to_param"].get("*")
    elif "emb_params" in data:  # kohya / A1111 .safetensors
        value = data["emb_params"]
    elif len(data) == 1:  # diffusers: {token: tensor}
        value = next(iter(data.values()))
    single = as_2d(value)
    return None if single is None else {"": single}


def _load_embeddings(pipe: Pipeline, embeddings: Sequence[Embedding]) -> dict[str, list[str]]:
    """Load `embeddings` into `pipe`'s text encoders; returns name -> its token names."""
    if not embeddings:
        return {}
    encoders = _encoders(pipe)
    loaded: dict[str, list[str]] = {}
    try:
        for index, emb in enumerate(embeddings):
            token = f"<studio-ti-{index}>"
            for role, encoder in zip(_roles(encoders), encoders, strict=True):
                vectors = _vectors_for(emb, role, encoder)
                pipe.load_textual_inversion(
                    vectors, token=token, tokenizer=encoder.tokenizer, text_encoder=encoder.model
                )
                count = int(vectors.shape[0])
            loaded[emb.name] = [token] + [f"{token}_{i}" for i in range(1, count)]
    except BaseException:
        _unload_embeddings(pipe, loaded)
        raise
    return loaded


def _vectors_for(emb: Embedding, role: str, encoder: _Encoder) -> torch.Tensor:
    width = int(encoder.model.get_input_embeddings().weight.shape[-1])  # type: ignore[attr-defined]
    if role in emb.vectors:
        vectors = emb.vectors[role]
    else:
        kind = "an SDXL (two text encoders)" if "clip_l" in emb.vectors else "a single text encoder"
        raise EmbeddingError(
            f"The embedding {emb.name} was made for {kind} model and does not fit this model: "
            "choose one made for this model's family."
        )
    if int(vectors.shape[-1]) != width:
        raise EmbeddingError(
            f"The embedding {emb.name} was made for another model family ({int(vectors.shape[-1])}-wide "
            f"vectors; this model's text encoder uses {width}): choose one made for this model."
        )
    return vectors.to(dtype=encoder.model.dtype)  # type: ignore[attr-defined]


def _unload_embeddings(pipe: Pipeline, loaded: dict[str, list[str]]) -> None:
    tokens = [t for names in loaded.values() for t in names]
    for encoder in _encoders(pipe):
        present = [t for t in tokens if t in encoder.tokenizer.added_tokens_encoder]  # type: ignore[attr-defined]
        if present:
            pipe.unload_textual_inversion(present, tokenizer=encoder.tokenizer, text_encoder=encoder.model)


def _roles(encoders: Sequence[_Encoder]) -> list[str]:
    return ["clip_l", "clip_g"] if len(encoders) == 2 else [""]


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def _with_embedding_tokens(text: str, embeddings: dict[str, list[str]]) -> str:
    for name, tokens in embeddings.items():
        text = _name_pattern(name).sub(" ".join(tokens), text)
    return text


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# -------------------------------------------------------------------------------------- encoding
def _encoders(pipe: Pipeline) -> list[_Encoder]:
    first = (getattr(pipe, "tokenizer", None), getattr(pipe, "text_encoder", None))
    second = (getattr(pipe, "tokenizer_2", None), getattr(pipe, "text_encoder_2", None))
    xl = second[1] is not None
    return [
        _Encoder(tok, model, xl) for tok, model in (first, second) if tok is not None and model is not None
    ]


def _forces_zeros(pipe: Pipeline) -> bool:
    return bool(pipe.config.get("force_zeros_for_empty_prompt", True))


def _encode_text(
    encoders: Sequence[_Encoder], text: str, clip_skip: int, names: dict[str, list[str]]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hidden states [1, windows * length, width] (SDXL: both encoders side by side) and the pooled
    output of the last encoder's first window (None for a single CLIP encoder)."""
    import torch

    per_encoder = []
    pooled: torch.Tensor | None = None
    for encoder in encoders:
        parts = windows(encoder.tokenizer, text, names)
        states = []
        for index, (ids, weights) in enumerate(parts):
            z, pool = _encode_window(encoder, ids, clip_skip)
            states.append(_apply_weights(z, weights))
            if index == 0 and pool is not None:
                pooled = pool
        per_encoder.append(torch.cat(states, dim=1))
    if len(per_encoder) == 2 and per_encoder[0].shape[1] != per_encoder[1].shape[1]:
        raise ValueError("The two text encoders split the prompt differently.")  # same vocabulary
    hidden = per_encoder[0] if len(per_encoder) == 1 else torch.cat(per_encoder, dim=-1)
    return hidden, pooled if encoders[0].xl else None


def _encode_window(
    encoder: _Encoder, ids: list[int], clip_skip: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    import torch

    model = encoder.model
    device = input_device(model)
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    kw: dict[str, object] = {}
    if getattr(model.config, "use_attention_mask", False):  # type: ignore[attr-defined]
        # as diffusers' pipelines: the text and its start/end tokens, not the padding after them
        _, eos = _special_ids(_tokenizer_of(encoder.tokenizer))
        end = ids.index(eos, 1) + 1 if eos in ids[1:] else len(ids)
        kw["attention_mask"] = (torch.arange(len(ids), device=device) < end).long()[None]
    out = model(input_ids, output_hidden_states=True, **kw)  # type: ignore[operator]
    skip = max(1, int(clip_skip))
    pooled = None
    if hasattr(model, "text_projection"):
        pooled = out.text_embeds if out.text_embeds.ndim == 2 else None
    if encoder.xl:
        return out.hidden_states[-(skip + 1)], pooled
    if skip == 1:
        return out.last_hidden_state, pooled
    return _final_layer_norm(model)(out.hidden_states[-skip]), pooled


def input_device(model: object) -> torch.device:
    """Where a text encoder's inputs go: its device, or under sequential CPU offload (its weights
    wait on the ``meta`` device) the device accelerate's hooks run it on."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{type(model).__name__} is not a text encoder")
    device = next(model.parameters()).device
    if device.type != "meta":
        return device
    for module in model.modules():
        execution = getattr(getattr(module, "_hf_hook", None), "execution_device", None)
        if execution is not None:
            return torch.device(execution)
    return device


def _final_layer_norm(model: object) -> torch.nn.Module:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{type(model).__name__} is not a text encoder")
    # transformers 5: CLIPTextModel holds the norm itself, CLIPTextModelWithProjection wraps one
    path = "text_model.final_layer_norm" if hasattr(model, "text_model") else "final_layer_norm"
    return model.get_submodule(path)


def _apply_weights(z: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """A1111's emphasis: multiply each token's hidden state by its weight, then restore the mean."""
    import torch

    if all(w == 1.0 for w in weights):
        return z
    original_mean = z.mean()
    scale = torch.tensor(weights, dtype=z.dtype, device=z.device).reshape(1, -1, 1)
    z = z * scale
    return z * (original_mean / z.mean())


def _pad_pair(
    encoders: Sequence[_Encoder], pos: torch.Tensor, neg: torch.Tensor, clip_skip: int, zero_negative: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad the shorter of `pos`/`neg` with empty-prompt windows (zeros for a zeroed SDXL negative)."""
    import torch

    empty, _ = _encode_text(encoders, "", clip_skip, {})
    window = empty.shape[1]

    def pad(z: torch.Tensor, windows_needed: int, zeros: bool) -> torch.Tensor:
        missing = (windows_needed - z.shape[1]) // window
        if missing <= 0:
            return z
        filler = torch.zeros_like(empty) if zeros else empty
        return torch.cat([z, *([filler] * missing)], dim=1)

    target = max(pos.shape[1], neg.shape[1])
    return pad(pos, target, False), pad(neg, target, zero_negative)


def _special_ids(tok: _Tokenizer) -> tuple[int, int]:
    """Start and end token ids: CLIP's BOS/EOS, or BERT's [CLS]/[SEP] (which have no BOS/EOS)."""
    bos = tok.bos_token_id if tok.bos_token_id is not None else getattr(tok, "cls_token_id", None)
    eos = tok.eos_token_id if tok.eos_token_id is not None else getattr(tok, "sep_token_id", None)
    if bos is None or eos is None:
        raise ValueError("The model's tokenizer has no start/end tokens; it cannot be used here.")
    return int(bos), int(eos)


def _tokenizer_of(tokenizer: object) -> _Tokenizer:
    return tokenizer  # type: ignore[return-value]


def _token_ids(tokenizer: _Tokenizer, text: str) -> list[int]:
    ids: list[int] = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    return ids
