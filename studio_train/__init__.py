"""Training of the built-in model studio-mini (see MODEL_CARD.md in its folder).

Run `python -m studio_train --help`.
"""
