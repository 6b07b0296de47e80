"""Reduce the CLIP BPE vocabulary to what a set of captions needs.

Kept: the 512 byte-level tokens (byte and byte + "</w>"), every merge that fires while
tokenizing the captions with the full merge list (in their original rank order, with their
results), and the two special tokens. Because the kept merges keep their relative ranks and
include every merge the full tokenizer applies, the reduced tokenizer produces the same token
strings for the captions; other words fall back to smaller pieces (down to bytes).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
# The CLIP pre-tokenizer pattern, with \p{L}/\p{N} approximated for the `re` module.
_PAT = re.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+""",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def read_merges(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text(encoding="utf-8").split("\n")[1:]
    return [tuple(line.split()) for line in lines if line.strip()]  # type: ignore[misc]


def _bpe_fired(word: str, ranks: dict[tuple[str, str], int]) -> set[tuple[str, str]]:
    """Apply BPE to one pre-token; return the merges that fired."""
    enc = bytes_to_unicode()
    chars = [enc[b] for b in word.encode("utf-8")]
    parts = chars[:-1] + [chars[-1] + "</w>"]
    fired: set[tuple[str, str]] = set()
    while len(parts) > 1:
        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
        best = min(pairs, key=lambda p: ranks.get(p, 1 << 30))
        if best not in ranks:
            break
        fired.add(best)
        merged: list[str] = []
        i = 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return fired


def pre_tokenize(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip().lower()
    return _PAT.findall(text)


def reduce_vocab(captions: list[str], full_dir: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Vocabulary and merges (rank order) of the reduced tokenizer."""
    merges = read_merges(full_dir / "merges.txt")
    ranks = {m: i for i, m in enumerate(merges)}
    fired: set[tuple[str, str]] = set()
    for word in {w for c in captions for w in pre_tokenize(c)}:
        fired |= _bpe_fired(word, ranks)
    kept = [m for m in merges if m in fired]
    byte_tokens = list(bytes_to_unicode().values())
    tokens = byte_tokens + [t + "</w>" for t in byte_tokens]
    seen = set(tokens)
    for a, b in kept:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    tokens += [BOS, EOS]
    log.info("reduced tokenizer: %d merges, %d tokens", len(kept), len(tokens))
    return {t: i for i, t in enumerate(tokens)}, kept


def write_reduced_tokenizer(captions: list[str], full_dir: Path, out_dir: Path) -> Path:
    """Write vocab.json + merges.txt of the reduced tokenizer to `out_dir`."""
    vocab, merges = reduce_vocab(captions, full_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    body = "\n".join(f"{a} {b}" for a, b in merges)
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + body + "\n", encoding="utf-8")
    return out_dir


def load_clip_tokenizer(directory: Path, max_length: int = 77):  # noqa: ANN201 - transformers type
    from transformers import CLIPTokenizer

    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=max_length,
        pad_token=EOS,
    )


def mismatches(captions: list[str], full, reduced) -> list[str]:  # noqa: ANN001
    """Captions whose token strings differ between the two tokenizers."""
    return [c for c in captions if full.tokenize(c) != reduced.tokenize(c)]
