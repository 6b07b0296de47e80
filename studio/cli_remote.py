"""studio-cli on ComfyUI servers (issue 16): `--server URL` (repeatable), `--token-file F`.

`generate|img2img|inpaint|outpaint --server URL --model NAME` runs the job through the remote engine
(the app's `RemoteEngine`: least-busy server, a job moved when its server goes away) and saves the
results exactly as a local run does; `models --server URL` lists the servers' checkpoints. Before a
job, the servers are asked for their checkpoints: a bad URL, no server reachable, or a `--model` no
server lists is a `ServerOptionError` (the CLI's one-line error, exit code 2) before anything runs.

Tokens: `--token-file F` holds one bearer token for every `--server` (or a JSON object {url: token},
the app's own token file format); without it, the tokens the app saved for those URLs are used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from studio.core.events import Finished
from studio.core.jsontext import parse_json
from studio.core.remote_servers import (
    MAX_TOKEN_FILE_BYTES,
    TOKENS_FILE,
    RemoteServer,
    check_server_url,
    load_tokens,
)
from studio.core.request import GenerationRequest

log = logging.getLogger(__name__)


class ServerOptionError(Exception):
    """--server / --token-file / --model cannot be used; the CLI exits with its input error code."""


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="URL",
        help="run on this ComfyUI server (http[s]://host:port); repeat for several (least busy first)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="bearer token for the servers (one line, or JSON {url: token}); default: the app's saved tokens",
    )


def servers_from_args(args: argparse.Namespace) -> list[RemoteServer]:
    """The --server URLs, checked, with their tokens."""
    urls: list[str] = []
    for text in args.server:
        try:
            url = check_server_url(text)
        except ValueError as exc:
            raise ServerOptionError(f"--server: {exc}") from None
        if url not in urls:
            urls.append(url)
    tokens = _tokens(args.token_file, urls)
    return [RemoteServer(url, token=tokens.get(url, "")) for url in urls]


def _tokens(token_file: Path | None, urls: Sequence[str]) -> dict[str, str]:
    if token_file is None:
        from studio.core.paths import user_dirs

        return load_tokens(user_dirs().config / TOKENS_FILE)
    try:
        if token_file.stat().st_size > MAX_TOKEN_FILE_BYTES:
            raise ServerOptionError(f"--token-file {token_file}: the file is too large for a token")
        text = token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ServerOptionError(f"--token-file {token_file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ServerOptionError(f"--token-file {token_file}: not a text file") from None
    if text.startswith("{"):
        try:
            data = parse_json(text)
        except ValueError:
            raise ServerOptionError(f"--token-file {token_file}: not valid JSON") from None
        if not isinstance(data, dict):
            raise ServerOptionError(f"--token-file {token_file}: not a JSON object")
        return {_normalised(k): v for k, v in data.items() if isinstance(v, str)}
    if not text or "\n" in text:
        raise ServerOptionError(f"--token-file {token_file}: give one token on one line")
    return dict.fromkeys(urls, text)


def _normalised(url: str) -> str:
    try:
        return check_server_url(url)
    except ValueError:
        return url


def checkpoints(servers: Sequence[RemoteServer]) -> list[str]:
    """The servers' checkpoints; ServerOptionError when no server can be reached (or is ComfyUI)."""
    from studio.app_remote import list_checkpoints
    from studio.remote.errors import RemoteError

    try:
        return list_checkpoints(servers)
    except (RemoteError, ValueError) as exc:
        raise ServerOptionError(str(exc)) from None


def list_models(servers: Sequence[RemoteServer]) -> int:
    """`studio-cli models --server URL`: one checkpoint name per line."""
    for name in checkpoints(servers):
        sys.stdout.write(f"{name}\n")
    return 0


def check_model(model: str, names: Sequence[str]) -> None:
    """`--model` must be a checkpoint the servers list ("" = their first one)."""
    if not names:
        raise ServerOptionError("the ComfyUI servers list no checkpoint (put one in models/checkpoints)")
    if model and model not in names:
        shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
        raise ServerOptionError(f"--model {model}: no server lists this checkpoint; they have: {shown}")


def run_remote(request: GenerationRequest, servers: Sequence[RemoteServer]) -> Finished:
    """Run `request` on the servers and return its Finished event; JobFailed as a local run raises.
    Ctrl+C cancels the job on its server and re-raises KeyboardInterrupt."""
    from studio.app_remote import remote_engine
    from studio.engine.headless import ProgressBar, run_on

    return run_on(remote_engine(lambda event: None, servers), request, ProgressBar(), shutdown_timeout=10.0)
