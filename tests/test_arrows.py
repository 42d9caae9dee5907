"""Arrows this layout relies on (until the import-layering contracts cover them): the query
service layer never reaches up to jobs or the composition root, and routers import services,
not each other's helpers."""

from __future__ import annotations

import ast
from pathlib import Path

import sqlgate

SRC = Path(sqlgate.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _reaches(imports: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in imports)


def test_services_do_not_import_jobs_or_the_composition_root() -> None:
    for path in sorted((SRC / "services").glob("*.py")):
        imports = _imports(path)
        for above in ("sqlgate.jobs", "sqlgate.container", "sqlgate.api", "sqlgate.app"):
            assert not _reaches(imports, above), f"{path.name} imports {above}"


def test_query_routers_do_not_import_the_jobs_router() -> None:
    for name in ("query.py", "admin.py", "run_sql.py"):
        assert not _reaches(_imports(SRC / "api" / name), "sqlgate.api.jobs"), name
