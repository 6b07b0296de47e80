"""Entry point of the frozen (PyInstaller) build: one executable, two commands.

`dist/studio/studio` opens the window (studio.app:main); `dist/studio/studio-cli`, a symlink to it
that packaging/studio.spec makes, runs the command line (studio.cli:main). The name the program was
started under decides, as with the `studio` and `studio-cli` scripts of a pip install.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

CLI_NAMES = ("studio-cli", "studio-cli.exe")


def main() -> int:
    multiprocessing.freeze_support()  # a child process started by torch/multiprocessing ends here
    if os.path.basename(sys.argv[0]).lower() in CLI_NAMES:
        from studio.cli import main as cli_main

        return cli_main()
    from studio.app import main as app_main

    return app_main()


if __name__ == "__main__":
    raise SystemExit(main())
