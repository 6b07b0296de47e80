"""A prompt longer than the text encoder reads is reported in `Started.warnings`; the job still runs."""

from __future__ import annotations

from types import SimpleNamespace

from studio.core.events import Finished, Started
from studio.core.paths import builtin_model_dir

LONG = " ".join(["apple"] * 95)  # one token per word in the CLIP vocabulary


def _started(rec, job) -> Started:
    return next(e for e in rec.of(job) if isinstance(e, Started))


def test_a_long_prompt_and_negative_prompt_are_reported_and_the_job_runs(engine, request_for) -> None:
    eng, rec = engine
    job = eng.submit(request_for(prompt=LONG, negative_prompt=" ".join(["blurry"] * 80), steps=1))
    assert isinstance(rec.wait_for(job), Finished)
    assert _started(rec, job).warnings == (
        "The prompt is 95 tokens; this model reads the first 75 — the rest is ignored.",
        "The negative prompt is 80 tokens; this model reads the first 75 — the rest is ignored.",
    )
    short = eng.submit(request_for(prompt=" ".join(["apple"] * 75), steps=1))  # exactly the limit
    assert isinstance(rec.wait_for(short), Finished)
    assert _started(rec, short).warnings == ()


def test_the_builtin_models_tokenizer_reads_30_tokens() -> None:
    from transformers import CLIPTokenizer

    from studio.core.request import GenerationRequest
    from studio.engine.prompt_tokens import prompt_warnings

    pipe = SimpleNamespace(tokenizer=CLIPTokenizer.from_pretrained(str(builtin_model_dir() / "tokenizer")))
    words = " ".join(["apple"] * 31)
    assert prompt_warnings(pipe, GenerationRequest(prompt=words)) == (
        "The prompt is 31 tokens; this model reads the first 30 — the rest is ignored.",
    )
    assert prompt_warnings(pipe, GenerationRequest(prompt=" ".join(["apple"] * 30))) == ()
