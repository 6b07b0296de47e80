"""`python -m studio.engine.training`: train studio-mini from scratch."""

from __future__ import annotations

import sys

from studio.engine.training.run import main

if __name__ == "__main__":
    sys.exit(main())
