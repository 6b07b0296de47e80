"""Server addresses: normalised, refused with a clear message, and the token kept out of sight."""

from __future__ import annotations

import logging

import pytest

from studio.remote.servers import ServerConfig, parse_server_url, websocket_url


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("127.0.0.1:8188", "http://127.0.0.1:8188"),
        (" http://Example.com:8188/ ", "http://example.com:8188"),
        ("https://gpu.example.com/comfy/", "https://gpu.example.com/comfy"),
        ("http://[::1]:8188", "http://[::1]:8188"),
        ("localhost", "http://localhost"),
    ],
)
def test_urls_are_normalised(text: str, url: str) -> None:
    assert parse_server_url(text) == url


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("ftp://host:21", "http:// or https://"),
        ("http://host:99999", "invalid port"),
        ("http://host:abc", "invalid port"),
        ("http://user:pw@host:8188", "token"),
        ("http://host:8188/?x=1", "query"),
        ("http://", "no host"),
        ("http://my host", "spaces"),
    ],
)
def test_bad_urls_get_a_clear_message(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_server_url(text)


def test_websocket_url_matches_the_scheme() -> None:
    assert websocket_url("http://h:8188") == "ws://h:8188"
    assert websocket_url("https://h/comfy") == "wss://h/comfy"
    assert ServerConfig("https://gpu.example.com").ws_url == "wss://gpu.example.com"


def test_config_defaults_its_label_and_sends_the_token_as_bearer() -> None:
    server = ServerConfig("127.0.0.1:8188", token="s3cret-token")
    assert server.name == "127.0.0.1:8188"
    assert server.headers() == {"Authorization": "Bearer s3cret-token"}
    assert ServerConfig("h:1").headers() == {}


def test_token_is_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    from studio.remote.engine import RemoteEngine

    server = ServerConfig("127.0.0.1:9", token="s3cret-token", name="gpu")
    caplog.set_level(logging.DEBUG)
    engine = RemoteEngine(lambda e: None, [server], connect_timeout=0.5)
    engine.start()
    try:
        engine.models()
        assert "s3cret" not in repr(server) and "s3cret" not in repr(engine)
        assert "s3cret" not in str(engine.server_status())
    finally:
        engine.shutdown(5)
    assert caplog.records  # the failed connection was logged ...
    assert all("s3cret" not in record.getMessage() for record in caplog.records)  # ... without the token


def test_a_token_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="one line"):
        ServerConfig("h:1", token="a\r\nX-Evil: 1")
