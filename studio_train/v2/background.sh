#!/usr/bin/env bash
# Start or resume the studio-mini v2 training run in the background; it survives the shell.
#   studio_train/v2/background.sh [extra args for python -m studio_train.v2]
#   WORK=runs/studio-mini-v2 THREADS=1 (defaults)
# Stop it (it checkpoints first):  kill -TERM "$(cat runs/studio-mini-v2/pid)"
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${WORK:-runs/studio-mini-v2}
THREADS=${THREADS:-1}
mkdir -p "$WORK"
if [ -f "$WORK/pid" ] && kill -0 "$(cat "$WORK/pid")" 2>/dev/null; then
    echo "already running: pid $(cat "$WORK/pid")" >&2
    exit 1
fi
HF_HUB_OFFLINE=1 QT_QPA_PLATFORM=offscreen OMP_WAIT_POLICY=PASSIVE \
    OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" \
    setsid nohup .venv/bin/python -m studio_train.v2 --work "$WORK" --threads "$THREADS" "$@" \
    >> "$WORK/train.log" 2>&1 < /dev/null &
echo $! > "$WORK/pid"
echo "started pid $!; log $WORK/train.log, progress $WORK/progress.json, curve $WORK/curve.csv"
