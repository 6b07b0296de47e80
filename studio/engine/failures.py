"""Turn any exception from a job into (FailureKind, message for the artist, technical detail)."""

from __future__ import annotations

import traceback

from studio.core.events import FailureKind

OOM_MESSAGE = (
    "Out of memory. The model was unloaded to free memory; it reloads with the next job. "
    "Try a smaller size or batch, or a lower precision (fp16/bf16)."
)


def failure_for(exc: BaseException, doing: str = "generating") -> tuple[FailureKind, str, str]:
    """`doing` ("generating", "loading the model") says what failed in the message for a bug."""
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    from studio.engine.conditioning import EmbeddingError
    from studio.engine.control import ControlError
    from studio.engine.device import is_out_of_memory
    from studio.engine.pipelines import RequestError
    from studio.engine.runner import NonFiniteOutput
    from studio.engine.schedulers import SchedulerUnavailable
    from studio.engine.upscale import UpscalerNotFound

    if isinstance(
        exc, RequestError | SchedulerUnavailable | EmbeddingError | ControlError | UpscalerNotFound
    ):
        return FailureKind.INPUT, str(exc), detail
    if _is_model_load_error(exc):
        return FailureKind.MODEL, str(exc) or "The model could not be loaded.", detail
    if isinstance(exc, NonFiniteOutput):
        return FailureKind.NAN, str(exc), detail
    if is_out_of_memory(exc):
        return FailureKind.OUT_OF_MEMORY, OOM_MESSAGE, detail
    return FailureKind.INTERNAL, _internal_message(exc, doing), detail


def _is_model_load_error(exc: BaseException) -> bool:
    try:
        from studio.engine.loading import ModelLoadError
    except ImportError:  # pragma: no cover - the loader ships with the engine
        return False
    return isinstance(exc, ModelLoadError)


def _internal_message(exc: BaseException, doing: str = "generating") -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 300:
        text = text[:299] + "…"
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return (
        f"Something went wrong while {doing} ({what}). The details show what happened; the log has them too."
    )
