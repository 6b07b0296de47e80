"""The model card's evaluation section is made from `bench/eval_mini.py --json` results by
`python -m studio_train.v2.model_card` (how the shipped card's table was written): it replaces the
old section in place, keeps every other section, and running it twice changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _result(top5: float, seconds: float, size: int, threads: int) -> dict:
    retrieval = {"top1": top5 / 3, "top5": top5, "median_rank": 100 - top5, "n": 120}
    return {
        "n_noto": 1456, "size": size, "threads": threads, "plain": retrieval,
        "unseen a picture of a {}": retrieval, "synonyms": retrieval, "style twemoji": retrieval,
        "autoencoder": {"hue_error_deg": 9.6}, "inpaint": {"ok": 20, "n": 20}, "s_per_image": seconds,
    }  # fmt: skip


def test_the_evaluation_section_is_replaced_from_the_json_results(tmp_path: Path) -> None:
    card = tmp_path / "MODEL_CARD.md"
    card.write_text(
        "# a model\n\nintro\n\n## Data\n- sets\n\n## Evaluation (old)\n| stale |\n\n"
        "## Learning curve\n| h | rank |\n\n## Known limits\n- soft shapes\n",
        encoding="utf-8",
    )
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(json.dumps(_result(19.2, 1.63, 128, 2)), encoding="utf-8")
    old.write_text(json.dumps(_result(8.3, 1.29, 64, 1)), encoding="utf-8")
    cmd = [
        sys.executable,
        "-m",
        "studio_train.v2.model_card",
        str(card),
        "--eval",
        str(new),
        "--baseline",
        str(old),
    ]
    subprocess.run(cmd, cwd=ROOT, check=True)
    text = card.read_text(encoding="utf-8")
    assert "stale" not in text and text.count("## Evaluation") == 1
    assert text.index("## Data") < text.index("## Evaluation") < text.index("## Learning curve")
    assert "- soft shapes" in text and text.startswith("# a model\n\nintro\n")
    assert "| plain names (120) | 6.4 % / 19.2 % / 80.8 | 2.8 % / 8.3 % / 91.7 |" in text
    assert (
        "| twemoji style, own bank |" in text
        and "1.63 s at 128 px, 2 threads | 1.29 s at 64 px, 1 thread" in text
    )
    subprocess.run(cmd, cwd=ROOT, check=True)
    assert card.read_text(encoding="utf-8") == text  # a second run changes nothing
