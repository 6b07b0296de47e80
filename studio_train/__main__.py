"""`python -m studio_train`: train studio-mini from scratch."""

from __future__ import annotations

import sys

from studio_train.run import main

if __name__ == "__main__":
    sys.exit(main())
