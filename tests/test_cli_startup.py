"""`sqlgate --help` answers at once: building the parser imports none of the service's heavy
dependencies (the container, the store, engines, FastAPI, SQLAlchemy, pydantic, pyarrow,
DuckDB...); a command imports what it uses when it runs. Each check starts a new interpreter,
as a user's `sqlgate` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli_errors import subcommands

#: Imported by the commands that use them, never to build the parser or print help.
HEAVY = (
    "sqlgate.container",
    "sqlgate.app",
    "sqlgate.store",
    "sqlgate.services",
    "sqlgate.engines.base",
    "sqlgate.settings",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "pyarrow",
    "duckdb",
    "sqlglot",
    "yaml",
)


def loaded_by(code: str) -> set[str]:
    """The heavy modules a new interpreter has imported after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return {m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)}


def test_importing_the_cli_imports_nothing_heavy() -> None:
    assert loaded_by("import sqlgate.cli") == set()


def test_every_help_imports_nothing_heavy() -> None:
    helps = [[], *([*words] for words in subcommands())]
    code = (
        "from sqlgate.cli import main\n"
        f"for argv in {helps!r}:\n"
        "    assert main([*argv, '--help']) == 0, argv\n"
    )
    assert len(helps) > 30
    assert loaded_by(code) == set()


def test_a_command_imports_what_it_uses(tmp_path: Path) -> None:
    """The check above sees these modules when they are there: a real command loads them."""
    code = (
        "from sqlgate.cli import main\n"
        f"assert main(['init', '--data-dir', {str(tmp_path)!r}, '--json']) == 0\n"
    )
    loaded = loaded_by(code)
    assert {"sqlgate.container", "sqlalchemy", "pydantic"} <= loaded
