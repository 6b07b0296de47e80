"""The prompt conditioning as A1111 builds it: weights, windows, BREAK, clip skip, embeddings, SDXL."""

from __future__ import annotations

import hashlib

import pytest
import torch

from studio.core.events import Failed, FailureKind, Finished
from studio.core.request import GenerationRequest
from studio.engine.conditioning import EmbeddingError, encode_prompts, prompt_conditioning, windows


@pytest.fixture(scope="module")
def pipe():
    from tests.tiny_model import build_tiny_pipeline

    return build_tiny_pipeline()


@pytest.fixture(scope="module")
def xl():
    from tests.engine.test_loading_families import tiny_sdxl

    pipe = tiny_sdxl()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _embeds(pipe, prompt: str, negative: str = "", clip_skip: int = 1) -> torch.Tensor:
    return encode_prompts(pipe, prompt, negative, clip_skip)["prompt_embeds"]


def test_a_plain_prompt_is_encoded_as_diffusers_does_and_gives_the_same_pixels(pipe) -> None:
    kw = encode_prompts(pipe, "a red apple on a table", "blurry")
    pos, neg = pipe.encode_prompt("a red apple on a table", "cpu", 1, True, "blurry")
    assert torch.equal(kw["prompt_embeds"], pos) and torch.equal(kw["negative_prompt_embeds"], neg)
    call = {"num_inference_steps": 2, "height": 64, "width": 64, "output_type": "np"}
    a = pipe(
        prompt="a red apple", negative_prompt="blurry", generator=torch.Generator().manual_seed(3), **call
    )
    b = pipe(
        **encode_prompts(pipe, "a red apple", "blurry"), generator=torch.Generator().manual_seed(3), **call
    )
    assert (a.images == b.images).all()


def test_weights_scale_the_weighted_tokens_and_the_mean_is_restored(pipe) -> None:
    plain = _embeds(pipe, "a red apple")
    weighted = _embeds(pipe, "a (red:1.5) apple")
    assert windows(pipe.tokenizer, "a (red:1.5) apple")[0][1][:5] == [1.0, 1.0, 1.5, 1.0, 1.0]
    ratio = weighted / plain
    scale = ratio[0, 0, 0]
    others = torch.ones(77, dtype=torch.bool)
    others[2] = False
    assert torch.allclose(ratio[0, others], scale.expand(76, 64), rtol=1e-4)  # one common factor ...
    assert torch.allclose(ratio[0, 2], (1.5 * scale).expand(64), rtol=1e-4)  # ... times 1.5 at "red"
    assert torch.allclose(weighted.mean(), plain.mean(), atol=1e-6)


def test_a_long_prompt_is_encoded_in_two_windows_and_the_negative_is_padded(pipe) -> None:
    kw = encode_prompts(pipe, " ".join(["apple"] * 80), "blurry")
    assert kw["prompt_embeds"].shape == (1, 154, 64)
    assert kw["negative_prompt_embeds"].shape == (1, 154, 64)
    empty = _embeds(pipe, "")
    assert torch.equal(kw["negative_prompt_embeds"][:, 77:], empty)  # padded with the empty prompt
    assert _embeds(pipe, " ".join(["apple"] * 75)).shape == (1, 77, 64)  # exactly one window
    assert len(windows(pipe.tokenizer, " ".join(["apple"] * 151))) == 3


def test_a_full_window_moves_the_words_after_its_last_comma_to_the_next(pipe) -> None:
    text = " ".join(["apple"] * 70) + ", " + " ".join(["pear"] * 10)
    first, second = windows(pipe.tokenizer, text)
    pear = pipe.tokenizer("pear", add_special_tokens=False)["input_ids"][0]
    assert pear not in first[0]
    assert second[0][1:11] == [pear] * 10


def test_break_starts_a_new_window(pipe) -> None:
    both = _embeds(pipe, "a red apple BREAK on a table")
    assert both.shape == (1, 154, 64)
    assert torch.equal(both[:, :77], _embeds(pipe, "a red apple"))
    assert torch.equal(both[:, 77:], _embeds(pipe, "on a table"))


def test_clip_skip_1_is_the_default_and_2_takes_the_layer_before(pipe) -> None:
    default, _ = pipe.encode_prompt("a red apple", "cpu", 1, False)
    assert torch.equal(_embeds(pipe, "a red apple", clip_skip=1), default)
    skipped = _embeds(pipe, "a red apple", clip_skip=2)
    assert not torch.allclose(skipped, default)
    ids = torch.tensor([windows(pipe.tokenizer, "a red apple")[0][0]])
    with torch.inference_mode():
        hidden = pipe.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
        assert torch.equal(skipped, pipe.text_encoder.final_layer_norm(hidden))


def _save_a1111_pt(path, width: int, vectors: int = 2, seed: int = 1) -> torch.Tensor:
    weights = torch.randn(vectors, width, generator=torch.Generator().manual_seed(seed))
    torch.save({"string_to_param": {"*": weights}, "name": path.stem, "step": 10}, str(path))
    return weights


def test_an_embedding_changes_the_conditioning_where_it_stands_and_is_gone_after(pipe, tmp_path) -> None:
    vectors = _save_a1111_pt(tmp_path / "MyStyle.pt", 64)
    request = GenerationRequest(prompt="a mystyle apple", negative_prompt="", embedding_dirs=(str(tmp_path),))
    before_vocab = len(pipe.tokenizer)
    plain = _embeds(pipe, "a red green apple")
    with prompt_conditioning(pipe, request) as cond:
        embeds = cond.kwargs["prompt_embeds"]
        ids = windows(pipe.tokenizer, "a MyStyle apple", {"MyStyle": ["<studio-ti-0>", "<studio-ti-0>_1"]})[
            0
        ][0]
        with torch.inference_mode():
            inputs = pipe.text_encoder.get_input_embeddings()(torch.tensor(ids))
        assert torch.equal(inputs[2:4], vectors)  # the embedding's two vectors stand in for its name
    digest = hashlib.sha256((tmp_path / "MyStyle.pt").read_bytes()).hexdigest()
    assert cond.embedding_hashes == {"MyStyle": digest[:12]}
    assert torch.equal(embeds[:, :2], plain[:, :2])  # before it: unchanged (a causal encoder)
    assert not torch.allclose(embeds[:, 2:4], plain[:, 2:4])
    # gone after the job: the tokenizer and the encoder are as before, the prompt is text again
    assert len(pipe.tokenizer) == before_vocab and not pipe.tokenizer.added_tokens_encoder.get(
        "<studio-ti-0>"
    )
    assert pipe.text_encoder.get_input_embeddings().weight.shape[0] == before_vocab
    assert torch.equal(_embeds(pipe, "a red green apple"), plain)


def test_unused_embeddings_are_not_loaded(pipe, tmp_path) -> None:
    (tmp_path / "broken.pt").write_bytes(b"not a pickle")
    request = GenerationRequest(prompt="a red apple", embedding_dirs=(str(tmp_path),))
    with prompt_conditioning(pipe, request) as cond:
        assert cond.embedding_hashes == {}


def test_bad_embeddings_are_refused_with_a_clear_message(pipe, tmp_path) -> None:
    (tmp_path / "broken.pt").write_bytes(b"not a pickle")
    _save_a1111_pt(tmp_path / "wide.pt", 768)
    for name, words in (("broken", "cannot be read"), ("wide", "another model family")):
        request = GenerationRequest(prompt=f"a {name} apple", embedding_dirs=(str(tmp_path),))
        with pytest.raises(EmbeddingError, match=words), prompt_conditioning(pipe, request):
            pass
    assert not pipe.tokenizer.added_tokens_encoder.get("<studio-ti-0>")


def test_the_engine_fails_a_job_with_a_bad_embedding_as_an_input_problem(
    engine, request_for, tmp_path
) -> None:
    eng, rec = engine
    _save_a1111_pt(tmp_path / "wide.pt", 768)
    job = eng.submit(request_for(prompt="a wide apple", steps=1, embedding_dirs=(str(tmp_path),)))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT and "wide" in end.message
    ok = eng.submit(request_for(prompt="a (red:1.3) apple BREAK on a table", steps=1, clip_skip=2))
    assert isinstance(rec.wait_for(ok), Finished)


def test_sdxl_plain_prompt_matches_diffusers_and_long_prompts_use_both_encoders(xl) -> None:
    kw = encode_prompts(xl, "a red apple", "blurry")
    pos, neg, pooled, neg_pooled = xl.encode_prompt("a red apple", negative_prompt="blurry", device="cpu")
    assert torch.equal(kw["prompt_embeds"], pos) and torch.equal(kw["negative_prompt_embeds"], neg)
    assert torch.equal(kw["pooled_prompt_embeds"], pooled)
    assert torch.equal(kw["negative_pooled_prompt_embeds"], neg_pooled)
    zero = encode_prompts(xl, "a red apple", "")
    _, zneg, _, zpooled = xl.encode_prompt("a red apple", device="cpu")
    assert torch.equal(zero["negative_prompt_embeds"], zneg) and torch.equal(
        zero["negative_pooled_prompt_embeds"], zpooled
    )
    long = encode_prompts(xl, " ".join(["apple"] * 80), "")
    assert long["prompt_embeds"].shape == (1, 154, 128)
    assert long["negative_prompt_embeds"].shape == (1, 154, 128)
    assert not (long["negative_prompt_embeds"] != 0).any()
    assert not torch.allclose(encode_prompts(xl, "a red apple", "", clip_skip=2)["prompt_embeds"], pos)


def test_sdxl_dual_embedding_loads_into_both_encoders(xl, tmp_path) -> None:
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(4)
    save_file(
        {"clip_l": torch.randn(1, 64, generator=g), "clip_g": torch.randn(1, 64, generator=g)},
        str(tmp_path / "duo.safetensors"),
    )
    _save_a1111_pt(tmp_path / "single.pt", 64)
    plain = encode_prompts(xl, "a red apple", "")["prompt_embeds"]
    with prompt_conditioning(
        xl, GenerationRequest(prompt="a duo apple", embedding_dirs=(str(tmp_path),))
    ) as cond:
        embeds = cond.kwargs["prompt_embeds"]
    assert set(cond.embedding_hashes) == {"duo"}
    assert torch.equal(embeds[:, :2], plain[:, :2]) and not torch.allclose(embeds[:, 2], plain[:, 2])
    assert not xl.tokenizer.added_tokens_encoder.get("<studio-ti-0>")
    assert not xl.tokenizer_2.added_tokens_encoder.get("<studio-ti-0>")
    single = GenerationRequest(prompt="a single apple", embedding_dirs=(str(tmp_path),))
    with pytest.raises(EmbeddingError, match="single text encoder"), prompt_conditioning(xl, single):
        pass
