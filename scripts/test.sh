#!/usr/bin/env bash
# The test command: installs what is missing, then ruff, the layer contracts, and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev,train
export HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen
python3 -m ruff check .
python3 -m ruff format --check .
lint-imports
python3 -m pytest -q "$@"
