"""studio-cli's `--server` / `--token-file` handling (issue 16), without a real ComfyUI.

A bad URL, a server that does not answer, an unreadable token file or a `--model` the server does
not list ends with one `error:` line and exit code 2 before any job; the bearer token reaches the
server and never the terminal. The server here is a few lines of http.server answering the two
model-list calls (the real-server runs are in tests/remote/test_cli_comfyui.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from studio.cli import build_parser, main
from tests.launch import user_dir_env

SECRET = "bearer-secret-42"
NAMES = ["sd15-small-random.safetensors", "other.ckpt"]


class _ModelListHandler(BaseHTTPRequestHandler):
    seen_auth: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen_auth.append(self.headers.get("Authorization", ""))
        if self.path == "/models/checkpoints":
            body = json.dumps(NAMES).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def model_server() -> Iterator[str]:
    _ModelListHandler.seen_auth = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelListHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in user_dir_env(tmp_path / "user").items():
        monkeypatch.setenv(var, value)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def test_server_options_parse_on_every_generating_command_and_models() -> None:
    parser = build_parser()
    for command in ("generate", "img2img", "inpaint", "outpaint"):
        extra = {"generate": [], "img2img": ["--image", "a.png"], "outpaint": ["--image", "a.png"]}
        extra["inpaint"] = ["--image", "a.png", "--mask", "m.png"]
        args = parser.parse_args(
            [command, *extra[command], "--server", "a:8188", "--server", "https://b", "--out", "x.png"]
        )
        assert args.server == ["a:8188", "https://b"] and args.token_file is None
    assert parser.parse_args(["models", "--server", "a:1", "--token-file", "t"]).server == ["a:1"]
    assert parser.parse_args(["models"]).server == []


@pytest.mark.parametrize("url", ["ftp://host:21", "http://host:port", "http://user:pw@host"])
def test_a_bad_server_url_is_an_input_error(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--server", url]) == 2
    assert _one_line_error(capsys).startswith("error: --server: ")
    out = tmp_path / "x.png"
    assert main(["generate", "--server", url, "--steps", "1", "--out", str(out)]) == 2
    assert _one_line_error(capsys).startswith("error: --server: ")
    assert not out.exists()


def test_a_server_that_does_not_answer_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "x.png"
    assert main(["generate", "--server", f"127.0.0.1:{port}", "--steps", "1", "--out", str(out)]) == 2
    assert "Cannot reach the ComfyUI server at http://127.0.0.1:" in _one_line_error(capsys)
    assert not out.exists()


def test_models_lists_the_servers_checkpoints_with_the_token(
    model_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SECRET + "\n")
    assert main(["models", "--server", model_server, "--token-file", str(token_file)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == NAMES
    assert f"Bearer {SECRET}" in _ModelListHandler.seen_auth
    assert SECRET not in captured.out + captured.err


def test_the_apps_saved_token_is_used_without_a_token_file(
    model_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from studio.core.paths import user_dirs
    from studio.core.remote_servers import TOKENS_FILE, RemoteServer, save_tokens

    save_tokens(user_dirs().config / TOKENS_FILE, [RemoteServer(model_server, token=SECRET)])
    assert main(["models", "--server", model_server]) == 0
    assert f"Bearer {SECRET}" in _ModelListHandler.seen_auth


def test_a_json_token_file_maps_urls_to_tokens(
    model_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "tokens.json"
    token_file.write_text(json.dumps({model_server.upper() + "/": SECRET}))  # written another way
    assert main(["models", "--server", model_server, "--token-file", str(token_file)]) == 0
    assert f"Bearer {SECRET}" in _ModelListHandler.seen_auth


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "No such file"),
        ("one\ntwo\n", "one token on one line"),
        ("{bad json", "not valid JSON"),
        ("", "one token"),
    ],
)
def test_an_unusable_token_file_is_an_input_error(
    content: str | None, says: str, model_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    assert main(["models", "--server", model_server, "--token-file", str(token_file)]) == 2
    assert says in _one_line_error(capsys)
    assert _ModelListHandler.seen_auth == []  # nothing was sent


def test_a_model_the_server_does_not_list_is_refused_before_the_job(
    model_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    argv = ["generate", "--server", model_server, "--model", "missing.safetensors", "--out", str(out)]
    assert main(argv) == 2
    error = _one_line_error(capsys)
    assert "--model missing.safetensors: no server lists this checkpoint" in error
    assert NAMES[0] in error
    assert not out.exists()
