"""Type aliases shared by the engine's modules; a leaf module (it imports nothing from Studio), so
every engine module can use them without an import cycle (`studio.engine.models` re-exports them).
"""

from __future__ import annotations

from typing import Any

# A diffusers StableDiffusion(XL)(Img2Img|Inpaint)Pipeline: its components (unet, vae, scheduler) are
# registered at run time, so diffusers' own types do not declare them.
Pipeline = Any
