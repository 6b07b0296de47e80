"""Long prompts: Stable Diffusion pipelines read them in windows (nothing is cut, nothing reported);
a pipeline whose prompts are not encoded in windows reports what its text encoder cuts."""

from __future__ import annotations

from types import SimpleNamespace

from studio.core.events import Finished, Started
from studio.core.paths import builtin_model_dir

LONG = " ".join(["apple"] * 95)  # one token per word in the CLIP vocabulary


def _started(rec, job) -> Started:
    return next(e for e in rec.of(job) if isinstance(e, Started))


def test_a_long_prompt_is_read_in_windows_so_nothing_is_reported(engine, request_for) -> None:
    eng, rec = engine
    job = eng.submit(request_for(prompt=LONG, negative_prompt=" ".join(["blurry"] * 80), steps=1))
    assert isinstance(rec.wait_for(job), Finished)
    assert _started(rec, job).warnings == ()


def test_a_tokenizer_without_windowed_encoding_reports_past_30_tokens() -> None:
    from transformers import AutoTokenizer

    from studio.core.request import GenerationRequest
    from studio.engine.prompt_tokens import prompt_warnings

    # studio-mini's BERT tokenizer: 32 positions, [CLS] and [SEP] around 30 tokens; "apple" is one
    pipe = SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(str(builtin_model_dir() / "tokenizer")))
    words = " ".join(["apple"] * 31)
    assert prompt_warnings(pipe, GenerationRequest(prompt=words)) == (
        "The prompt is 31 tokens; this model reads the first 30 — the rest is ignored.",
    )
    assert prompt_warnings(pipe, GenerationRequest(prompt=" ".join(["apple"] * 30))) == ()
