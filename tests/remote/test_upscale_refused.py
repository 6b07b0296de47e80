"""An "Upscale…" job is not sent to a ComfyUI server (it would run as a plain img2img there): it is
refused with the message that says to run it on this computer."""

from __future__ import annotations

import pytest
from PIL import Image

from studio.core.request import GenerationRequest, Mode, UpscaleOptions
from studio.remote.errors import Unsupported
from studio.remote.workflow import check_supported, unsupported


def test_upscale_jobs_are_refused_for_servers() -> None:
    request = GenerationRequest(
        mode=Mode.IMG2IMG, init_image=Image.new("RGB", (32, 32)), upscale=UpscaleOptions(enabled=True)
    )
    assert unsupported(request) == ["upscaling (Upscale…)"]
    with pytest.raises(Unsupported, match="run it on this computer"):
        check_supported(request)
    assert unsupported(request.replace(upscale=UpscaleOptions())) == []
