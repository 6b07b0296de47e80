"""Walk through the Generate tab as a new user would, with the real Engine and studio-mini (not a test).

    xvfb-run -a -s "-screen 0 1400x900x24" python -m tests.ui.generate_walkthrough docs/

Fresh user folders in a temp dir; the real main window as `studio.app.main` builds it (canvas tab,
engine started, built-in model preloaded). Types a prompt from "Prompts that work", generates a
batch at the model's native size (live preview grid), queues two more jobs while it runs, cancels
one of them, applies a style preset twice, and waits for the queue to drain. Prints one PASS/FAIL line
per step; writes screenshot-generate-{running,style,done}.png into the given folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.ui.walk import RESULTS, show_window, step, use_fresh_user_dirs, wait_until

FIRST, SECOND, THIRD = "blue heart", "grinning squinting face", "lady beetle"
STYLE = "Emoji (studio-mini)"


def type_prompt(window: Any, text: str) -> None:
    """Pick `text` the way a user would: from the "Prompts that work" menu, then check the box."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    box = window.controls.prompt
    box.setFocus()
    box.selectAll()
    QTest.keyClick(box, Qt.Key.Key_Delete)
    QTest.keyClicks(box, text)


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="studio-generate-walkthrough-"))
    use_fresh_user_dirs(root)
    from PySide6.QtWidgets import QApplication

    from studio.app import after_shown

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    window, dirs = show_window(app, root)
    after_shown(window, dirs, preload=True)
    vm, gen = window.vm, window.generation
    state: dict[str, Any] = {}

    def s1_model() -> str:
        assert (vm.width, vm.height) == (128, 128), (vm.width, vm.height)
        assert wait_until(lambda: "studio-mini" in window.status.model_label.text(), 300), "no model"
        ideas = window.controls.prompt_ideas
        assert ideas.isVisible() and FIRST in ideas.prompts(), ideas.prompts()
        return f"size {vm.width}x{vm.height}; {len(ideas.prompts())} prompts that work"

    def s2_generate() -> str:
        type_prompt(window, FIRST)
        assert vm.prompt == FIRST, vm.prompt
        window.controls.batch.setValue(4)
        window.controls.steps.setValue(40)
        window.generate_button.click()
        state["first"] = gen.job
        assert gen.job is not None and gen.job.request.width == 128
        steps: list[Any] = []
        gen.job.step.connect(steps.append)
        assert wait_until(lambda: steps and steps[-1].step >= 12, 300), "no previews"
        last = steps[-1]
        assert len(last.previews) == 4, len(last.previews)
        return f"step {last.step}/{last.total}, {len(last.previews)} previews; caption {window.preview.caption()!r}"

    def s3_queue() -> str:
        for prompt in (SECOND, THIRD):
            type_prompt(window, prompt)
            window.controls.batch.setValue(1)
            window.generate_button.click()
        lines = window.page.queue.lines()
        assert len(lines) == 3 and "waiting" in lines[2], lines
        window.grab().save(str(out / "screenshot-generate-running.png"))
        waiting = gen.queue.items()
        window.page.queue.select(waiting[1].id)  # cancel THIRD
        window.page.queue.cancel_button.click()
        assert [p.request.prompt for p in gen.queue.items()] == [SECOND]
        return " | ".join(lines)

    def s4_style() -> str:
        type_prompt(window, FIRST)
        for _ in range(2):
            window.presets_panel.select(STYLE)
            window.presets_panel.apply_selected()
        assert window.controls.prompt.toPlainText() == FIRST
        assert window.controls.style_chips.names() == [STYLE]
        request = gen.build_request()
        assert request.prompt == f"an emoji of a {FIRST}", request.prompt
        window.generate_button.click()
        window.grab().save(str(out / "screenshot-generate-style.png"))
        return f"prompt box {FIRST!r}; runs as {request.prompt!r}; styles {request.styles!r}"

    def s5_done() -> str:
        assert wait_until(lambda: not gen.busy, 600), "the queue did not drain"
        assert wait_until(lambda: window.history.count() == 9, 60), window.history.count()  # saved
        window.grab().save(str(out / "screenshot-generate-done.png"))
        saved = sorted(dirs.output.rglob("*.png"))
        return f"{len(saved)} images saved; history {window.history.count()}"

    for name, fn in (
        ("built-in model at its native size", s1_model),
        ("generate a batch with live previews", s2_generate),
        ("queue two jobs, cancel one", s3_queue),
        ("apply a style preset twice", s4_style),
        ("queue drains", s5_done),
    ):
        step(name, fn)
    window.close()
    app.processEvents()
    failed = [name for name, ok, _ in RESULTS if not ok]
    print("ALL PASS" if not failed else f"FAILED: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs"))
