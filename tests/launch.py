"""Starting the real app (`python -m studio.app`) as a subprocess, with its user folders in a temp dir.

One place for the environment the end-to-end tests (tests/ui/test_app_launch.py and friends) give
the app, and for reading the JSON lines its smoke run (`--smoke-exit-after-shown`) prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SMOKE = "--smoke-exit-after-shown"
# the variables studio.core.paths.user_dirs reads, and the folder each gets under a test's root
USER_DIR_VARS = (
    ("STUDIO_CONFIG_DIR", "config"),
    ("STUDIO_DATA_DIR", "data"),
    ("STUDIO_OUTPUT_DIR", "output"),
    ("STUDIO_LOG_DIR", "logs"),
    ("STUDIO_MODELS_DIR", "models"),
)
# switches of studio.app for end-to-end tests only: a launch sets them when it means to
_TEST_SWITCHES = ("STUDIO_TEST_EDIT", "STUDIO_RESTORE_ANSWER", "STUDIO_SMOKE_EXIT")


def user_dir_env(root: Path) -> dict[str, str]:
    """Every Studio user folder under `root` (config, data, output, logs, models), as env variables."""
    return {var: str(root / sub) for var, sub in USER_DIR_VARS}


def app_env(root: Path, **extra: str) -> dict[str, str]:
    """This process's environment for the app: user folders under `root`, offscreen Qt, the repo on
    PYTHONPATH, no test switch inherited; `extra` last."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT)) | user_dir_env(root)
    for var in _TEST_SWITCHES:
        env.pop(var, None)
    return env | extra


def app_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "studio.app", *map(str, args)]


def run_app(
    root: Path, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the app to its end in `root` (with `app_env(root)` unless `env` is given); a run past
    `timeout` fails the test with the end of its stderr."""
    try:
        return subprocess.run(
            app_command(*args),
            env=app_env(root) if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=root,
        )
    except subprocess.TimeoutExpired as exc:
        import pytest  # here: the walkthroughs import this module outside pytest

        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
        pytest.fail(f"the app did not quit within {exc.timeout} s; its stderr ends:\n{err[-3000:]}")


def smoke_run(
    root: Path, *args: str | Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """`studio --smoke-exit-after-shown ARGS` (see `run_app`), asserted to exit 0; the run and the JSON
    reports it printed, in order."""
    done = run_app(root, SMOKE, *args, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
