"""Count a request's prompt tokens with the model's tokenizer and warn when the encoder cuts them.

Pipelines whose prompts are encoded by `studio.engine.conditioning` (every Stable Diffusion / SDXL
pipeline with its text encoder) read prompts of any length in windows, so nothing is cut and nothing
is reported. Otherwise the text encoder reads `tokenizer.model_max_length` tokens including its start and end tokens (77 for
Stable Diffusion, 32 for the built-in studio-mini); diffusers silently drops the rest. SDXL has two
tokenizers with the same limit: the first one (`pipe.tokenizer`) is counted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from studio.core.prompt_length import length_warnings

if TYPE_CHECKING:
    from studio.core.request import GenerationRequest
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

_NO_LIMIT = 1_000_000  # transformers' "no maximum" is a huge number (int(1e30))


class Tokenizer(Protocol):
    model_max_length: int

    def num_special_tokens_to_add(self, pair: bool = False) -> int: ...
    def __call__(self, text: str, **kwargs: object) -> dict[str, list[int]]: ...


def prompt_warnings(pipe: Pipeline, request: GenerationRequest) -> tuple[str, ...]:
    """Warnings for the prompt and negative prompt of `request` that `pipe` would cut; () if none."""
    from studio.engine.conditioning import chunks_prompts
    from studio.engine.dit import job_warnings, pipe_family

    family = pipe_family(pipe)
    if family:  # SD3 / Flux: what the job ignores (A1111 syntax, sampler, guidance); diffusers cuts
        return job_warnings(pipe, family, request)
    if chunks_prompts(pipe):  # long prompts are encoded in windows: no text is dropped
        return ()
    tokenizer = _tokenizer(pipe)
    if tokenizer is None or int(tokenizer.model_max_length) >= _NO_LIMIT:
        return ()
    readable = int(tokenizer.model_max_length) - tokenizer.num_special_tokens_to_add(pair=False)
    texts = (("prompt", request.prompt), ("negative prompt", request.negative_prompt))
    counts = [(label, count_tokens(tokenizer, text)) for label, text in texts if text]
    return length_warnings(counts, readable)


def checked_prompt_warnings(pipe: Pipeline, request: GenerationRequest, job_id: int) -> tuple[str, ...]:
    """`prompt_warnings`, logged; () if counting fails (a warning must never stop the job)."""
    try:
        warnings = prompt_warnings(pipe, request)
    except Exception:
        log.warning("Could not count the prompt's tokens", exc_info=True)
        return ()
    for text in warnings:
        log.warning("Job %d: %s", job_id, text)
    return warnings


def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    """Tokens of `text` without the start and end tokens, however long it is."""
    ids = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    return len(ids)


def _tokenizer(pipe: Pipeline) -> Tokenizer | None:
    tokenizer: Tokenizer | None = pipe.tokenizer
    if tokenizer is None:  # an SDXL refiner has only the second tokenizer
        tokenizer = getattr(pipe, "tokenizer_2", None)
    return tokenizer
