"""studio-mini v2: emoji sets rendered at 128 px, frozen MiniLM text encoder, resumable training.

Run `python -m studio_train.v2 --help`.
"""
