"""Where jobs run, as the settings keep it: server URLs checked, a bad one left out with a message,
tokens only in their own 0600 file, never in settings.json, a repr or the log."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from studio.core.remote_servers import (
    RemoteServer,
    check_server_url,
    load_tokens,
    save_tokens,
    where_jobs_run,
    with_tokens,
)
from studio.core.settings import Settings, SettingsFile, load_settings, save_settings

SECRET = "s3cret-token-value"


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("127.0.0.1:8188", "http://127.0.0.1:8188"),
        (" HTTP://GPU-box:8188/ ", "http://gpu-box:8188"),
        ("https://comfy.example.com/studio/", "https://comfy.example.com/studio"),
        ("http://[::1]:8188", "http://[::1]:8188"),
    ],
)
def test_server_urls_are_normalised(text: str, url: str) -> None:
    assert check_server_url(text) == url


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("ftp://host:21", "http:// or https://"),
        ("http://:8188", "no host"),
        ("http://host:99999", "not a usable URL"),
        ("http://user:pw@host:8188", "token"),
        ("http://host:8188/?x=1", "only the server's address"),
    ],
)
def test_bad_server_urls_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        check_server_url(text)


def test_a_settings_file_with_a_bad_url_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    servers = [{"url": "http://a:8188", "name": "box A"}, {"url": "gopher://b"}, "https://c", 7]
    path.write_text(json.dumps({"version": 1, "run_on": "comfyui", "comfyui_servers": servers}))
    settings = load_settings(path)
    assert settings.run_on == "comfyui"
    assert settings.comfyui_servers == (RemoteServer("http://a:8188", "box A"), RemoteServer("https://c"))
    assert len(settings.problems) == 2
    assert "gopher://b" in settings.problems[0] and "http:// or https://" in settings.problems[0]
    assert "7" in settings.problems[1]


def test_unknown_run_on_falls_back_to_this_computer(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 1, "run_on": "the cloud"}))
    settings = load_settings(path)
    assert settings.run_on == "local"
    assert "run_on" in settings.problems[0]


def test_tokens_never_reach_settings_json_or_a_repr(tmp_path: Path) -> None:
    server = RemoteServer("http://a:8188", "box", SECRET)
    settings = Settings(run_on="comfyui", comfyui_servers=(server,))
    path = tmp_path / "settings.json"
    save_settings(settings, path)
    SettingsFile(path).save(settings)
    assert SECRET not in path.read_text()
    assert SECRET not in repr(server) and SECRET not in repr(settings)
    assert load_settings(path).comfyui_servers == (RemoteServer("http://a:8188", "box"),)


def test_token_file_is_0600_whatever_the_umask(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config" / "comfyui_tokens.json"
    old = os.umask(0)
    try:
        caplog.set_level(logging.DEBUG)
        save_tokens(path, [RemoteServer("http://a:8188", token=SECRET), RemoteServer("http://b:8188")])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"http://a:8188": SECRET}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    servers = with_tokens([RemoteServer("http://a:8188"), RemoteServer("http://b:8188")], load_tokens(path))
    assert [s.token for s in servers] == [SECRET, ""]
    assert SECRET not in caplog.text


def test_token_file_readable_by_others_is_tightened_and_dropped_when_empty(tmp_path: Path) -> None:
    path = tmp_path / "comfyui_tokens.json"
    path.write_text(json.dumps({"http://a:8188": SECRET}))
    path.chmod(0o644)
    assert load_tokens(path) == {"http://a:8188": SECRET}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_tokens(path, [RemoteServer("http://a:8188")])  # no token left: no file
    assert not path.exists()


def test_a_damaged_token_file_means_no_tokens(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "comfyui_tokens.json"
    path.write_text('{"http://a:8188": "' + SECRET)
    assert load_tokens(path) == {}
    assert SECRET not in caplog.text


def test_where_jobs_run() -> None:
    servers = (RemoteServer("http://a:8188"), RemoteServer("https://b"))
    assert where_jobs_run("local", servers) == "This computer"
    assert where_jobs_run("comfyui", servers) == "ComfyUI: a:8188 (+1)"
    assert where_jobs_run("comfyui", servers[1:]) == "ComfyUI: b:443"
    assert where_jobs_run("comfyui", (RemoteServer("http://a:8188", "GPU box"),)) == "ComfyUI: GPU box"


@pytest.mark.parametrize(
    ("url", "token", "in_clear"),
    [
        ("http://10.0.0.7:8188", SECRET, True),
        ("http://gpu.example:8188/comfy", SECRET, True),
        ("http://10.0.0.7:8188", "", False),
        ("https://10.0.0.7:8188", SECRET, False),
        ("http://127.0.0.1:8188", SECRET, False),
        ("http://127.3.4.5:8188", SECRET, False),
        ("http://localhost:8188", SECRET, False),
        ("http://[::1]:8188", SECRET, False),
    ],
)
def test_a_token_sent_in_clear_is_one_over_http_to_another_host(url: str, token: str, in_clear: bool) -> None:
    from studio.core.remote_servers import token_sent_in_clear

    assert token_sent_in_clear(RemoteServer(url, token=token)) is in_clear
