"""Rebuild resources/tokenizers/clip/{vocab.json,merges.txt} from the open_clip_torch wheel (MIT).

    pip download --no-deps open_clip_torch==3.3.0 -d /tmp/oc
    python packaging/make_clip_tokenizer.py /tmp/oc/open_clip_torch-3.3.0-py3-none-any.whl

The result is the standard CLIP BPE vocabulary (49408 tokens) in the layout `CLIPTokenizer` reads.
"""

from __future__ import annotations

import gzip
import json
import logging
import sys
import zipfile
from pathlib import Path

from studio_train.tokenizer import bytes_to_unicode

log = logging.getLogger(__name__)
OUT = Path(__file__).resolve().parents[1] / "resources" / "tokenizers" / "clip"
BPE_MEMBER = "open_clip/bpe_simple_vocab_16e6.txt.gz"


def build(wheel: Path, out: Path = OUT) -> int:
    with zipfile.ZipFile(wheel) as zf:
        text = gzip.decompress(zf.read(BPE_MEMBER)).decode("utf-8")
    merges = [tuple(line.split()) for line in text.split("\n")[1 : 49152 - 256 - 2 + 1]]
    byte_tokens = list(bytes_to_unicode().values())
    vocab = byte_tokens + [t + "</w>" for t in byte_tokens] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    return len(vocab)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %d tokens to %s", build(Path(sys.argv[1])), OUT)
