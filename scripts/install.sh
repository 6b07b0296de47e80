#!/usr/bin/env bash
# Install Studio and everything it needs on a fresh machine (Debian/Ubuntu or any box with pip).
# torch==2.13.0 goes FIRST: any other torch spec would pull gigabytes of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"  # e.g. "dev" or "dev,train"; empty = just the app
pkgs=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0 libdbus-1-3
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
      libxcb-render-util0 libxcb-image0)
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
python3 -m pip install -q torch==2.13.0
target="."; [ -n "$extras" ] && target=".[${extras}]"
python3 -m pip install -q -c constraints.txt -e "$target"
