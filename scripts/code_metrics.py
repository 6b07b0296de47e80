"""Size figures of a source tree: module lines, function lines, `Any` annotations.

    python scripts/code_metrics.py [ROOT ...]     (default: studio)

Prints module count, median/max module length, function count, median/max function length, the
functions over 40 lines, and how many times the name `Any` is used in annotations.
"""

from __future__ import annotations

import ast
import logging
import statistics
import sys
from pathlib import Path

log = logging.getLogger("code_metrics")


def python_files(roots: list[Path]) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "resources" not in p.parts)


def function_lengths(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            found.append((node.name, node.end_lineno - node.lineno + 1))
    return found


def any_annotations(tree: ast.AST) -> int:
    annotations: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
    count = 0
    for ann in annotations:
        for sub in ast.walk(ann):
            if (isinstance(sub, ast.Name) and sub.id == "Any") or (
                isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "Any" in sub.value
            ):
                count += 1
    return count


def report(roots: list[Path]) -> str:
    module_sizes: dict[str, int] = {}
    functions: list[tuple[str, int]] = []
    any_count = 0
    for path in python_files(roots):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        module_sizes[str(path)] = len(text.splitlines())
        functions += [(f"{path}:{name}", n) for name, n in function_lengths(tree)]
        any_count += any_annotations(tree)
    sizes = sorted(module_sizes.values())
    lengths = sorted(n for _, n in functions)
    biggest_module = max(module_sizes.items(), key=lambda kv: kv[1])
    long_functions = sorted((f for f in functions if f[1] > 40), key=lambda f: -f[1])
    lines = [
        f"modules: {len(sizes)}, lines median {statistics.median(sizes):.0f}, "
        f"max {biggest_module[1]} ({biggest_module[0]})",
        f"functions: {len(lengths)}, lines median {statistics.median(lengths):.0f}, "
        f"p90 {lengths[int(len(lengths) * 0.9)]}, max {lengths[-1]}",
        f"functions over 40 lines: {len(long_functions)}"
        + "".join(f"\n  {n:4d} {name}" for name, n in long_functions),
        f"`Any` in annotations: {any_count}",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    roots = [Path(a) for a in argv] or [Path("studio")]
    log.info("%s", report(roots))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
