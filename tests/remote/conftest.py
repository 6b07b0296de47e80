"""Fixtures for the remote engine's tests. Tests marked `comfyui` need a real ComfyUI server
(env STUDIO_COMFYUI, see tests/remote/comfy_server.py) and are skipped without one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.remote.comfy_server import ComfyProcess, configured, start_comfyui


@pytest.fixture(autouse=True)
def _needs_comfyui(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("comfyui") and not os.environ.get("STUDIO_COMFYUI"):
        pytest.skip("needs a real ComfyUI: set STUDIO_COMFYUI to its URL or to a ComfyUI checkout")


@pytest.fixture(scope="session")
def comfy_checkout() -> Path | None:
    return configured()[1]


@pytest.fixture(scope="session")
def comfy_urls(tmp_path_factory: pytest.TempPathFactory, comfy_checkout: Path | None) -> Iterator[list[str]]:
    """Two servers started from the checkout, or the URLs STUDIO_COMFYUI names."""
    urls, _ = configured()
    if comfy_checkout is None:
        yield urls
        return
    started: list[ComfyProcess] = []
    try:
        for name in ("a", "b"):
            started.append(start_comfyui(comfy_checkout, tmp_path_factory.mktemp(f"comfyui-{name}")))
        yield [server.url for server in started]
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def comfy_url(comfy_urls: list[str]) -> str:
    return comfy_urls[0]


@pytest.fixture
def two_comfy_urls(comfy_urls: list[str]) -> list[str]:
    if len(comfy_urls) < 2:
        pytest.skip("needs two ComfyUI servers (STUDIO_COMFYUI: a checkout, or two URLs)")
    return comfy_urls[:2]


@pytest.fixture
def killable_comfy(tmp_path: Path, comfy_checkout: Path | None) -> Iterator[ComfyProcess]:
    """A ComfyUI server of this test's own, which it may kill (needs a checkout)."""
    if comfy_checkout is None:
        pytest.skip("needs a ComfyUI checkout in STUDIO_COMFYUI to start a server it can kill")
    server = start_comfyui(comfy_checkout, tmp_path / "comfyui-killable")
    try:
        yield server
    finally:
        server.kill()
