#!/usr/bin/env bash
# Install Studio into a project virtual environment (.venv) on a stock Debian/Ubuntu machine
# (system Python >= 3.10; PEP 668 "externally managed" Pythons included), then it runs as .venv/bin/studio.
#
#   bash scripts/install.sh [--torch auto|cpu|cuda|keep] [--extras dev,train] [--no-desktop] [--force]
#                           [--print-torch-choice]
#
# torch is chosen for the machine: an NVIDIA GPU (nvidia-smi answers) gets PyPI's CUDA build, no GPU gets
# a CPU build (a local wheel where pip's find-links holds one, else the PyTorch CPU index).
# Override with --torch or STUDIO_TORCH=cpu|cuda. Nothing is reinstalled when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu
venv="${STUDIO_VENV:-.venv}"
torch_choice="${STUDIO_TORCH:-auto}"
extras=""
desktop=1
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) torch_choice="$2"; shift 2 ;;
    --torch=*) torch_choice="${1#*=}"; shift ;;
    --extras) extras="$2"; shift 2 ;;
    --extras=*) extras="${1#*=}"; shift ;;
    --no-desktop) desktop=0; shift ;;
    --force) force=1; shift ;;
    --print-torch-choice) print_choice=1; shift ;;
    dev*|train*) extras="$1"; shift ;;  # the old positional form: install.sh dev,train
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$torch_choice" in auto|cpu|cuda|keep) ;; *)
  echo "install.sh: --torch must be auto, cpu, cuda or keep, not '$torch_choice'" >&2; exit 2 ;;
esac

choose_torch() {  # auto -> cuda with an NVIDIA GPU, else cpu
  if [ "$torch_choice" != auto ]; then echo "$torch_choice"
  elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then echo cuda
  else echo cpu; fi
}
torch_choice=$(choose_torch)
if [ "${print_choice:-0}" = 1 ]; then echo "$torch_choice"; exit 0; fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# --- 1. System libraries Qt needs (and python3-venv). Installed as root; otherwise the exact line.
qt_pkgs=(libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libglib2.0-0 libdbus-1-3
         libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0
         libxcb-render-util0 libxcb-image0)
missing_debs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
python3 -c 'import ensurepip, venv' 2>/dev/null || venv_pkg="python3-venv"
if command -v dpkg-query >/dev/null; then
  mapfile -t missing < <(missing_debs "${qt_pkgs[@]}")
  [ -n "${venv_pkg:-}" ] && missing+=("$venv_pkg")
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "Installing system packages: ${missing[*]}"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
      echo "Studio needs these system packages, and installing them needs root. Run:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      echo "then run this script again." >&2
      exit 1
    fi
  fi
elif [ -n "${venv_pkg:-}" ]; then
  echo "Python's venv module is missing: install your distribution's python3-venv package." >&2; exit 1
else
  echo "Not a Debian/Ubuntu system: make sure Qt's libraries (libEGL, libxkbcommon-x11, xcb-cursor) are installed." >&2
fi

# --- 2. The project's virtual environment.
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  say "Creating the virtual environment $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)

stamp="$venv/.studio-installed"
# What decides the installed packages: pyproject's [project] table and the constraints (other sections,
# e.g. the test configuration, change nothing installed, so they trigger no reinstall).
project_table=$("$py" -c 'import sys, tomllib, json; print(json.dumps(tomllib.load(open("pyproject.toml", "rb"))["project"], sort_keys=True))' 2>/dev/null || cat pyproject.toml)
fingerprint=$(printf '%s\n' "$project_table" | cat - constraints.txt | sha256sum | cut -c1-16)
fingerprint="$fingerprint extras=$extras torch=$torch_choice"
if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ]; then
  say "Studio is already installed in $venv (nothing changed; --force reinstalls)"
else
  # --- 3. torch, chosen for this machine.
  have_torch=$("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null || true)
  case "$torch_choice:$have_torch" in
    keep:*) say "Keeping the installed torch (${have_torch:-none})" ;;
    cpu:"$TORCH_VERSION+cpu"|cuda:"$TORCH_VERSION"+cu*) say "torch $have_torch already installed" ;;
    cpu:*)
      say "Installing torch $TORCH_VERSION (CPU build)"
      # A local CPU wheel (pip's find-links) first; its dependencies then come from PyPI.
      if "${pip[@]}" install -q --no-index --no-deps "torch==$TORCH_VERSION" 2>/dev/null; then
        "${pip[@]}" install --progress-bar on "torch==$TORCH_VERSION"
      else
        "${pip[@]}" install --progress-bar on "torch==$TORCH_VERSION" --index-url "$CPU_INDEX" \
          --extra-index-url https://pypi.org/simple
      fi ;;
    cuda:*)
      say "Installing torch $TORCH_VERSION with CUDA (about 2.5 GB of downloads; progress below)"
      "${pip[@]}" install --progress-bar on "torch==$TORCH_VERSION" ;;
  esac
  # --- 4. Studio and its libraries (editable: this checkout is the app).
  target="."; [ -n "$extras" ] && target=".[${extras}]"
  say "Installing Studio${extras:+ with $extras} into $venv"
  # The build backend lives in the venv (no isolated build environment to download), so a later
  # reinstall works offline.
  "${pip[@]}" install -q "setuptools>=68"
  "${pip[@]}" install --progress-bar on --no-build-isolation -c constraints.txt -e "$target" | { grep -v '^Requirement already satisfied' || true; }
  # Model upscalers: spandrel without its declared torchvision (the PyPI wheels need a CUDA torch;
  # Studio imports spandrel with a stand-in for the two architectures that use it: engine/upscale.py).
  "${pip[@]}" install -q --no-deps -c constraints.txt spandrel
  "$py" -c 'import studio.app, PySide6.QtWidgets' || { echo "install.sh: the installed app does not import" >&2; exit 1; }
  echo "$fingerprint" >"$stamp"
fi

# --- 5. Desktop integration for this user: `studio` on PATH, menu entry and icon (never fatal).
install_desktop() {  # chained with &&: `set -e` does not apply inside a function called with ||
  local bin="$HOME/.local/bin" apps="$HOME/.local/share/applications"
  local icons="$HOME/.local/share/icons/hicolor/scalable/apps"
  mkdir -p "$bin" "$apps" "$icons" \
    && ln -sf "$PWD/$venv/bin/studio" "$bin/studio" \
    && ln -sf "$PWD/$venv/bin/studio-cli" "$bin/studio-cli" \
    && cp packaging/studio.desktop "$apps/studio.desktop" \
    && cp studio/resources/icons/app.svg "$icons/studio.svg" || return 1
  case ":$PATH:" in *":$bin:"*) ;; *) echo "Add $bin to your PATH to start Studio as 'studio'." ;; esac
}
if [ "$desktop" = 1 ] && [ "${CI:-}" != true ]; then
  install_desktop || echo "warning: the menu entry and the 'studio' command in ~/.local could not be installed (see above); Studio itself is installed." >&2
fi
say "Done. Start Studio with: $venv/bin/studio"
