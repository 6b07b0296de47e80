"""The permissive emoji sets (npm @iconify-json/*), pinned by version and sha512 integrity.

ShareAlike sets are left out. Noto is the reference style: its captions carry no style tag.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmojiSet:
    prefix: str  # the iconify prefix and the npm package name after @iconify-json/
    version: str
    integrity: str  # npm's dist.integrity (sha512, base64)
    license: str  # SPDX
    style: str  # caption tag: "red heart, {style} style"; "" for the reference style
    credit: str  # attribution for the model card

    @property
    def package(self) -> str:
        return f"@iconify-json/{self.prefix}"

    @property
    def tarball_name(self) -> str:
        return f"iconify-json-{self.prefix}-{self.version}.tgz"


REFERENCE = "noto"
SETS: tuple[EmojiSet, ...] = (
    EmojiSet(
        "noto", "1.2.9",
        "sha512-DQiuXENbun41ch+XPSV55H9FaWKpHTyz46YIKtSaKYD4fIDDzL1tR6H4np/T38jfrTAeI3rcKF0mqHYeZVAuaw==",
        "Apache-2.0", "", "Noto Emoji by Google Inc (Apache-2.0)",
    ),
    EmojiSet(
        "noto-v1", "1.2.5",
        "sha512-/DsVMius69Q0fRS53z7QK1TROSuar606jiIx+laXtdsYGMXpf6LtHBx6CGfoo3UHHb/XpBsw+1L1x3eyPqMuVA==",
        "Apache-2.0", "noto v1", "Noto Emoji v1 by Google Inc (Apache-2.0)",
    ),
    EmojiSet(
        "twemoji", "1.2.5",
        "sha512-uKpuIEV0v6K5BW3Mjdyl+XKFVAbbcPxAgifKvEMtZoUZB5+YiY5zaMm2uNNCxyXzAWU9yNLlj41WU6/mvgALsw==",
        "CC-BY-4.0", "twemoji", "Twemoji by Twitter, Inc and other contributors (CC BY 4.0)",
    ),
    EmojiSet(
        "fluent-emoji", "1.2.7",
        "sha512-D8G6bKAyIsyxP1rzZtIWr/gg/fO4Rg1+DyCWlfqKK4h8W+4Em/Y0P6QYgJUQTlUcagzJvSyg+9OBv4hz4Hc/QA==",
        "MIT", "fluent 3d", "Fluent Emoji by Microsoft Corporation (MIT)",
    ),
    EmojiSet(
        "fluent-emoji-flat", "1.2.6",
        "sha512-RY47RgPb47fYUiyrA64sIOL0+UU02s29sXpNBbIQRBUlPlfNFTKUmZDERGuxDs/7yNGWqQYvuaSYM1M4fRXlUw==",
        "MIT", "fluent flat", "Fluent Emoji Flat by Microsoft Corporation (MIT)",
    ),
    EmojiSet(
        "emojione", "1.2.3",
        "sha512-T9+T3HIbJNLKKsmxYKlaYhvnHYkz/HNYTV7SHCXVZPfeUi4FqskY70YeN8yYAZT8cCv7w5vJxS4Q1m8zb9CMMg==",
        "CC-BY-4.0", "emojione", "Emoji One by Emoji One (CC BY 4.0)",
    ),
)  # fmt: skip


def by_prefix(prefix: str) -> EmojiSet:
    for s in SETS:
        if s.prefix == prefix:
            return s
    raise KeyError(f"unknown emoji set {prefix!r}; known: {', '.join(s.prefix for s in SETS)}")
