"""A model with a BERT text encoder (studio-mini v2: MiniLM, `use_attention_mask`) gets exactly the
conditioning diffusers' StableDiffusionPipeline computes: [CLS] text [SEP] padding, with the
padding masked out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ["red", "heart", "cat", "face", ",", "twemoji", "style", "a", "of", "emoji", "an"]


def tiny_bert(tmp_path: Path):  # noqa: ANN201
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tok = transformers.BertTokenizer.from_pretrained(tmp_path, model_max_length=12)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=32,
    )  # fmt: skip
    config.use_attention_mask = True
    return tok, transformers.BertModel(config).eval()


def diffusers_encoding(tok, model, text: str):  # noqa: ANN001, ANN201
    """What StableDiffusionPipeline.encode_prompt feeds the UNet for this encoder."""
    t = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt")
    with torch.no_grad():
        return model(t.input_ids, attention_mask=t.attention_mask)[0]


def test_bert_prompt_is_encoded_as_diffusers_does(tmp_path: Path) -> None:
    from studio.engine.conditioning import encode_prompts

    tok, model = tiny_bert(tmp_path)
    pipe = SimpleNamespace(tokenizer=tok, text_encoder=model)
    out = encode_prompts(pipe, "red heart, twemoji style", "")  # type: ignore[arg-type]
    pos, neg = out["prompt_embeds"], out["negative_prompt_embeds"]
    assert pos.shape == (1, 12, 16)
    torch.testing.assert_close(pos, diffusers_encoding(tok, model, "red heart, twemoji style"))
    torch.testing.assert_close(neg, diffusers_encoding(tok, model, ""))
    # the padding is masked: an unmasked encoding differs
    ids = tok("red heart", padding="max_length", max_length=12, return_tensors="pt").input_ids
    with torch.no_grad():
        unmasked = model(ids, attention_mask=torch.ones_like(ids))[0]
    assert not torch.allclose(unmasked, diffusers_encoding(tok, model, "red heart"))
