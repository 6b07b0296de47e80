"""Check a frozen Studio build (dist/studio/) the way a user runs it.

    python packaging/check_frozen.py [DIST_DIR] [--keep]

DIST_DIR defaults to dist/studio next to this folder. Everything runs from a new temporary folder,
with HOME, XDG and STUDIO_* folders inside it, HF_HUB_OFFLINE=1, QT_QPA_PLATFORM=offscreen and
nothing of a virtual environment in the environment:

1. `studio-cli generate --prompt "red apple" --steps 4 --out a.png` exits 0 and writes a PNG whose
   `parameters` text says `Model: Built-in (studio-mini)`;
2. `studio-cli info a.png` exits 0 and prints those parameters;
3. `studio --smoke-exit-after-shown` prints a JSON line (the window was shown) and exits 0.

Prints one line per step with its time; on a failure prints what went wrong (exit code, output, the
end of Studio's log) and exits 1, keeping the temporary folder. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_MODEL = "Model: Built-in (studio-mini)"
PROMPT = "red apple"
TIMEOUT_S = 900


class CheckFailed(Exception):
    pass


def png_text(path: Path) -> dict[str, str]:
    """The tEXt/zTXt/iTXt chunks of a PNG (stdlib only, so the check needs no Pillow)."""
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise CheckFailed(f"{path} is not a PNG file")
    text: dict[str, str] = {}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _translated, _, value = rest.partition(b"\0")
            text[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
        elif kind == b"IEND":
            break
    return text


def user_env(tmp: Path) -> dict[str, str]:
    """The environment of a user's shell: nothing from this checkout's venv, user folders in tmp."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "STUDIO_RESOURCES_DIR")
        and not k.startswith(("STUDIO_", "XDG_", "HF_", "TRANSFORMERS_", "DIFFUSERS_", "PYTEST_"))
    }
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p != venv_bin
    )
    home = tmp / "home"
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        HF_HOME=str(home / ".cache" / "huggingface"),
        HF_HUB_OFFLINE="1",
        QT_QPA_PLATFORM="offscreen",
        STUDIO_CONFIG_DIR=str(tmp / "config"),
        STUDIO_DATA_DIR=str(tmp / "data"),
        STUDIO_OUTPUT_DIR=str(tmp / "output"),
        STUDIO_LOG_DIR=str(tmp / "logs"),
        STUDIO_MODELS_DIR=str(tmp / "models"),
    )
    home.mkdir(parents=True, exist_ok=True)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], what: str) -> tuple[str, float]:
    """Runs one command; returns its stdout and seconds, or raises CheckFailed with its output."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{what}: no exit after {TIMEOUT_S} s: {' '.join(args)}") from exc
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise CheckFailed(
            f"{what}: exit code {done.returncode} ({' '.join(args)})\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done.stdout, seconds


def check(dist: Path, tmp: Path) -> list[str]:
    studio, cli = dist / "studio", dist / "studio-cli"
    env = user_env(tmp)
    work = tmp / "work"
    work.mkdir()
    report = []

    args = [str(cli), "generate", "--prompt", PROMPT, "--steps", "4", "--seed", "1", "--out", "a.png"]
    _out, seconds = run(args, work, env, "studio-cli generate")
    png = work / "a.png"
    if not png.is_file():
        raise CheckFailed(f"studio-cli generate exited 0 but wrote no {png}")
    params = png_text(png).get("parameters")
    if params is None:
        raise CheckFailed(f"{png} has no `parameters` text")
    if EXPECTED_MODEL not in params or PROMPT not in params:
        raise CheckFailed(f"{png} parameters lack {EXPECTED_MODEL!r} or the prompt:\n{params}")
    report.append(f"studio-cli generate: {seconds:.1f} s, {png.stat().st_size} bytes PNG, {EXPECTED_MODEL}")

    out, seconds = run([str(cli), "info", "a.png"], work, env, "studio-cli info")
    if EXPECTED_MODEL not in out or PROMPT not in out:
        raise CheckFailed(f"studio-cli info a.png does not print the parameters:\n{out}")
    report.append(f"studio-cli info: {seconds:.1f} s")

    out, seconds = run(
        [str(studio), "--smoke-exit-after-shown"], work, env, "studio --smoke-exit-after-shown"
    )
    shown = None
    for line in out.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "shown_ms" in value:
            shown = value
            break
    if shown is None:
        raise CheckFailed(f"studio --smoke-exit-after-shown printed no JSON line with shown_ms:\n{out}")
    report.append(
        f"studio --smoke-exit-after-shown: {seconds:.1f} s, window shown after {shown['shown_ms']} ms"
    )
    return report


def log_tail(tmp: Path, lines: int = 40) -> str:
    logs = sorted((tmp / "logs").glob("*.log")) if (tmp / "logs").is_dir() else []
    return "".join(
        f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        for log in logs
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check a frozen Studio build as a user runs it.")
    parser.add_argument("dist", nargs="?", type=Path, default=ROOT / "dist" / "studio")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    dist = args.dist.resolve()
    for exe in (dist / "studio", dist / "studio-cli"):
        if not os.access(exe, os.X_OK):
            sys.stderr.write(f"FROZEN CHECK FAILED: {exe} is missing or not executable: ")
            sys.stderr.write("run packaging/build_frozen.sh first\n")
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="studio-frozen-check-"))
    try:
        report = check(dist, tmp)
    except CheckFailed as exc:
        sys.stderr.write(f"FROZEN CHECK FAILED ({dist}): {exc}\n{log_tail(tmp)}(kept {tmp})\n")
        return 1
    for line in report:
        sys.stdout.write(f"ok  {line}\n")
    sys.stdout.write(f"FROZEN CHECK PASSED: {dist}\n")
    if args.keep:
        sys.stdout.write(f"(kept {tmp})\n")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
