"""The code's shape, held by tests: layers that point one way, and pieces small enough to read.

docs/architecture.md explains the layers; ``[tool.importlinter]`` in pyproject.toml states them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "sqlgate"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
#: Longer on purpose: a migration is frozen in time once released.
LONG_FUNCTIONS = {("store/migrations/versions/0001_initial_schema.py", "upgrade")}


def _modules() -> list[tuple[str, str]]:
    return [(str(p.relative_to(PACKAGE)), p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))]


def test_imports_follow_the_layers() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_no_module_is_too_long_to_read() -> None:
    too_long = {
        name: text.count("\n") for name, text in _modules() if text.count("\n") > MAX_MODULE_LINES
    }
    assert too_long == {}, f"split these by concern (over {MAX_MODULE_LINES} lines)"


def test_no_function_is_too_long_to_read() -> None:
    too_long = []
    for name, text in _modules():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and (name, node.name) not in LONG_FUNCTIONS:
                    too_long.append(f"{name}:{node.lineno} {node.name} ({length} lines)")
    assert too_long == [], f"over {MAX_FUNCTION_LINES} lines"
