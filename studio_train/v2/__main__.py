"""`python -m studio_train.v2`: see studio_train/v2/run.py."""

from __future__ import annotations

import sys

from studio_train.v2.run import main

if __name__ == "__main__":
    sys.exit(main())
