"""Every way talking to a ComfyUI server can fail, as typed exceptions with a clear message.

The message (``str(exc)``) is written for the artist; it never contains a token. `RemoteError` is
the base; the engine turns each into a `Failed` event (`failure_kind`)."""

from __future__ import annotations

from studio.core.events import FailureKind


class RemoteError(Exception):
    """Talking to a ComfyUI server failed; ``str(exc)`` says how, for the artist."""

    kind = FailureKind.INTERNAL


class ServerUnreachable(RemoteError):
    """No answer: wrong address, server not running, network down, timeout, TLS failure."""


class ServerGone(ServerUnreachable):
    """The connection to a server was lost while it ran (or waited for) a job."""


class NotComfyUI(RemoteError):
    """Something answered, but not as a ComfyUI server does."""


class ServerError(RemoteError):
    """The server answered with an HTTP error status (5xx, 401/403, ...)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class BadReply(RemoteError):
    """A reply that is not what ComfyUI sends: malformed JSON, wrong shape, an oversized image."""


class PromptRejected(RemoteError):
    """The server refused the workflow (a missing checkpoint or sampler, a bad value)."""

    kind = FailureKind.INPUT


class Unsupported(RemoteError):
    """The request uses something Studio cannot run on a ComfyUI server (yet)."""

    kind = FailureKind.INPUT


class ExecutionFailed(RemoteError):
    """The server started the job and reported an error while running it."""

    def __init__(self, message: str, kind: FailureKind = FailureKind.INTERNAL, detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.detail = detail


class Interrupted(RemoteError):
    """The server reports the job interrupted (by Studio's cancel, or by someone else)."""
