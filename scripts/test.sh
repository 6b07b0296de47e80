#!/usr/bin/env bash
# The test command (what CI runs): installs what is missing into .venv (nothing when nothing changed,
# so it works offline once installed), then ruff, the type checker, the import contracts and pytest.
#   bash scripts/test.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --extras dev,train --no-desktop
# The training tests render emoji with Debian's fonts-noto-color-emoji; without it they skip, naming it.
font=fonts-noto-color-emoji
if command -v dpkg-query >/dev/null && ! dpkg-query -W -f='${Status}' "$font" 2>/dev/null | grep -q "ok installed"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$font"
  else
    echo "note: the training tests will skip: run 'sudo apt-get install -y $font' to include them"
  fi
fi
venv=.venv/bin
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen
echo "==> ruff"
"$venv/python" -m ruff check .
"$venv/python" -m ruff format --check .
echo "==> mypy"
"$venv/python" -m mypy
echo "==> import contracts"
"$venv/lint-imports"
echo "==> pytest"
"$venv/python" -m pytest -q "$@"
