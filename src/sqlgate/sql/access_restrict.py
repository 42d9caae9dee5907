"""What an organization's administrators may add to the operator's policy: only narrower rules.

An addition may, on tables the operator's policy shows, hide more columns (or make them
filter-only) and add restrictive
row policies (and a tenant rule, which is one). It may not widen anything: no ``default``, no
permissive policies, no masks (a mask would be computed from the raw column), no ``exists``
(it would read a mapping table the operator's policy does not filter), and its expressions may
not read columns the operator's policy hides or masks (a filter is an oracle on what it reads).
"""

from __future__ import annotations

from sqlglot import exp

from sqlgate.sql.access_document import (
    SOURCE_ALIAS,
    AccessDocument,
    DocumentSpec,
    MaskSpec,
    Problem,
)


def addition_problems(
    spec: DocumentSpec, compiled: AccessDocument, base: AccessDocument | None
) -> list[Problem]:
    """Why ``spec`` (compiled as ``compiled``) is not a narrowing of ``base`` (None: no
    operator policy, so every table and column is visible)."""
    problems: list[Problem] = []
    for field in ("default", "native_rls"):
        if field in spec.model_fields_set:
            problems.append((field, f"`{field}` belongs to the operator's policy"))
    for name, table in spec.tables.items():
        path = f"tables.{name}"
        for column, rule in table.columns.items():
            if isinstance(rule, MaskSpec):
                problems.append((f"{path}.columns.{column}", "an organization may hide, not mask"))
        for number, row in enumerate(table.rows):
            if row.type != "restrictive":
                problems.append(
                    (
                        f"{path}.rows.{number}.type",
                        "an organization may add restrictive policies only",
                    )
                )
            if row.exists is not None:
                problems.append(
                    (f"{path}.rows.{number}.exists", "an organization may not add `exists`")
                )
    for key, policy in compiled.tables.items():
        if base is None:
            continue
        base_policy = base.tables.get(key)
        if base_policy is None and not base.default_allow:
            problems.append(
                (f"tables.{key.display()}", "the operator's policy does not show this table")
            )
            continue
        if base_policy is None:
            continue
        closed = {c.lower() for c in base_policy.hidden} | {c.lower() for c in base_policy.masks}
        for row_policy in policy.rows:
            for ref in row_policy.condition.find_all(exp.Column):
                if ref.table == SOURCE_ALIAS and ref.name.lower() in closed:
                    problems.append(
                        (
                            f"tables.{key.display()}.rows",
                            f"{row_policy.name} reads {ref.name}, which the operator's policy "
                            "hides or masks",
                        )
                    )
    return problems
