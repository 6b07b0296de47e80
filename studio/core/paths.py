"""Where things live: bundled resources, and the user's config/data/output/log folders.

Every user folder can be overridden by an environment variable so tests never touch real config:
STUDIO_CONFIG_DIR, STUDIO_DATA_DIR, STUDIO_OUTPUT_DIR, STUDIO_LOG_DIR, STUDIO_MODELS_DIR.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "Studio"
BUILTIN_MODEL_ID = "studio-mini"


def resources_dir() -> Path:
    """The package's `studio/resources/` folder: in a checkout, an installed wheel and a frozen build.

    Found through `importlib.resources`, so it follows the package wherever it is installed
    (PyInstaller collects it as package data). STUDIO_RESOURCES_DIR overrides it.
    """
    env = os.environ.get("STUDIO_RESOURCES_DIR")
    if env:
        return Path(env)
    return Path(str(importlib.resources.files("studio") / "resources"))


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def builtin_model_dir() -> Path:
    return resource("models", BUILTIN_MODEL_ID)


def clip_tokenizer_dir() -> Path:
    return resource("tokenizers", "clip")


@dataclass(frozen=True)
class UserDirs:
    config: Path
    data: Path
    output: Path
    logs: Path
    models: Path

    @property
    def presets(self) -> Path:
        return self.config / "presets"

    @property
    def autosave(self) -> Path:
        return self.data / "autosave"

    @property
    def loras(self) -> Path:
        """The artist's LoRA / LyCORIS files (always searched, before the settings' `lora_dirs`)."""
        return self.data / "loras"

    @property
    def embeddings(self) -> Path:
        """Textual inversion embeddings, used by name in the prompt."""
        return self.data / "embeddings"

    @property
    def vae(self) -> Path:
        """VAE files and diffusers VAE folders offered in the VAE choice."""
        return self.data / "vae"

    @property
    def controls(self) -> Path:
        """ControlNet / T2I-Adapter / IP-Adapter models offered in the Controls panel."""
        return self.data / "controls"

    @property
    def upscalers(self) -> Path:
        """Model upscalers (ESRGAN, ...) offered by the hires fix and "Upscale…"."""
        return self.data / "upscalers"

    def ensure(self) -> UserDirs:
        for p in (self.config, self.data, self.output, self.logs, self.models, self.presets):
            p.mkdir(parents=True, exist_ok=True)
        return self


def user_dirs() -> UserDirs:
    import platformdirs

    def pick(var: str, default: str) -> Path:
        return Path(os.environ.get(var) or default)

    return UserDirs(
        config=pick("STUDIO_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME)),
        data=pick("STUDIO_DATA_DIR", platformdirs.user_data_dir(APP_NAME)),
        output=pick("STUDIO_OUTPUT_DIR", str(Path(platformdirs.user_pictures_dir()) / APP_NAME)),
        logs=pick("STUDIO_LOG_DIR", platformdirs.user_log_dir(APP_NAME)),
        models=pick("STUDIO_MODELS_DIR", str(Path(platformdirs.user_data_dir(APP_NAME)) / "models")),
    )
