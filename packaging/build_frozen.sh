#!/usr/bin/env bash
# Build the frozen Studio (PyInstaller, one folder) into dist/studio/ and check it.
#
#   bash packaging/build_frozen.sh            # build, then run packaging/check_frozen.py
#   bash packaging/build_frozen.sh --clean    # also drop PyInstaller's cache and build/pyinstaller first
#   bash packaging/build_frozen.sh --no-check # build only
#
# Needs the project venv (.venv, from scripts/install.sh); PYTHON=... picks another interpreter.
# Installs PyInstaller into it when missing (the `package` extra of pyproject.toml). Takes 10-20 min
# and ~1 GB of disk on two cores; run it with `nice` when the machine is shared. The result:
#   dist/studio/studio       the window         (studio.app:main)
#   dist/studio/studio-cli   the command line   (studio.cli:main; a symlink to studio)
#   dist/studio/_internal/   everything they load
# build/ and dist/ are git-ignored. Copy or archive the whole dist/studio/ folder (keep the symlink).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
PYINSTALLER_VERSION=6.22.3  # pyproject.toml: [project.optional-dependencies] package
clean=() check=1
for arg in "$@"; do
    case "$arg" in
        --clean) clean=(--clean) ;;
        --no-check) check=0 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown option: $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [[ ! -x "$PYTHON" ]]; then
    echo "error: $PYTHON not found: install the project first (bash scripts/install.sh)" >&2
    exit 1
fi
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "Installing pyinstaller==$PYINSTALLER_VERSION into $PYTHON's environment"
    "$PYTHON" -m pip install -q -c constraints.txt "pyinstaller==$PYINSTALLER_VERSION"
fi
if [[ ${#clean[@]} -gt 0 ]]; then
    rm -rf build/pyinstaller
fi

echo "Building dist/studio with PyInstaller $("$PYTHON" -m PyInstaller --version) ($(date '+%F %T'))"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm ${clean[@]+"${clean[@]}"} --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/studio.spec
seconds=$(( $(date +%s) - start ))

echo "Build time: $((seconds / 60)) min $((seconds % 60)) s"
echo "Size: $(du -sh dist/studio | cut -f1) (dist/studio)"

if [[ $check -eq 1 ]]; then
    "$PYTHON" packaging/check_frozen.py dist/studio
fi
