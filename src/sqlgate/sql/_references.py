"""Columns and parameters the query references, and references that bypass column allow-lists.

Columns are reported by name for the service's column allow-list, so anything that selects
columns without naming them is refused (``column_bypass``): DuckDB ``* LIKE 'pw%'`` and other
pattern filters on ``*``, a whole row passed to a function (``to_json(u.*)``) and, in PostgreSQL
and DuckDB, a bare relation name used as a value (``row_to_json(u)``), unless a CTE or subquery of
that name defines a column of that name. Parameters are reported by name without their sigil
(``:org``, ``$org``, ``%(org)s`` and SQLite's ``@org`` all give ``org``), in order of first
appearance in the text. MySQL ``@user`` and ``@@system`` variables are session state and are
refused (``session_variable``).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokenizer_core import TokenType

from sqlgate.sql._shape import unwrap
from sqlgate.sql._source import Refused, node_start
from sqlgate.sql._walk import NodeCheck, Walk

# Predicates that, applied to `*`, select columns by pattern (DuckDB `SELECT * LIKE 'pw%'`).
_STAR_FILTERS: tuple[type[exp.Expr], ...] = (
    exp.Like,
    exp.ILike,
    exp.Glob,
    exp.SimilarTo,
    exp.RegexpLike,
)
_PATTERN_COLUMNS_MESSAGE = (
    "Selecting columns by pattern (* LIKE ..., * SIMILAR TO ...) bypasses column allow-lists and "
    "is not allowed; name the columns"
)


def check_whole_rows(walk: Walk) -> None:
    """A bare column named like a relation in scope is that relation's whole row."""
    if not walk.source.policy.whole_row_references:
        return
    for column in walk.bare_columns:
        key = column.name.lower()
        if key not in walk.relations:
            continue
        source = walk.relations[key]
        if source is not None and key in _output_names(source):
            continue  # a column of the CTE or subquery, which wins over the whole row
        raise Refused(
            "column_bypass",
            f"Whole-row reference {column.name} bypasses column allow-lists and is not "
            f"allowed; name the columns (or qualify a column named {column.name})",
            node_start(column),
        )


def ordered_parameters(walk: Walk) -> list[str]:
    """Parameters in order of first appearance in the text (tree order breaks ties)."""
    parameters = walk.parameters
    if len(parameters) < 2:
        return list(parameters)
    first: dict[str, int] = {}
    tokens = walk.source.tokens
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.text.startswith("$") and token.token_type == TokenType.VAR:
            first.setdefault(token.text[1:], token.start)
        elif following is not None and following.start == token.end + 1:
            if token.token_type in (TokenType.COLON, TokenType.PARAMETER):
                first.setdefault(following.text, token.start)
            elif token.text == "%" and following.token_type == TokenType.L_PAREN:
                name = tokens[index + 2].text if index + 2 < len(tokens) else ""
                first.setdefault(name, token.start)
    order = {name: index for index, name in enumerate(parameters)}
    end = len(walk.source.sql)
    return sorted(parameters, key=lambda name: (first.get(name, end), order[name]))


def _collect_column(walk: Walk, node: exp.Column) -> None:
    if isinstance(node.this, exp.Star):
        return
    name = node.name
    if (
        walk.source.dialect == "sqlite"
        and name.startswith("$")
        and not node.this.args.get("quoted")
    ):
        walk.add_parameter(name[1:])  # SQLite's $name parameter; sqlglot reads a column
        return
    walk.columns.add(name)
    if not node.table:
        walk.bare_columns.append(node)


def _check_star(walk: Walk, node: exp.Star) -> None:
    if node.args.get("ilike") is not None:
        raise Refused("column_bypass", _PATTERN_COLUMNS_MESSAGE, node_start(node))
    holder = node.parent
    if isinstance(holder, exp.Column):
        holder = holder.parent
    if isinstance(holder, _STAR_FILTERS):
        raise Refused("column_bypass", _PATTERN_COLUMNS_MESSAGE, node_start(holder))
    if isinstance(holder, exp.Func) and not isinstance(holder, (exp.Count, exp.Columns)):
        raise Refused(
            "column_bypass",
            "Passing a whole row (*) to a function bypasses column allow-lists and is not "
            "allowed; name the columns",
            node_start(node),
        )


def _record_table_alias(walk: Walk, node: exp.TableAlias) -> None:
    walk.aliases.add(node.name.lower())


def _record_cte_name(walk: Walk, node: exp.CTE) -> None:
    if node.alias:
        walk.aliases.add(node.alias.lower())


def _record_derived_table(walk: Walk, node: exp.Expr) -> None:
    if node.alias:
        walk.relations[node.alias.lower()] = node


def _collect_placeholder(walk: Walk, node: exp.Placeholder) -> None:
    # `:name`, `$name`, `%(name)s`; bare `?` (whose .name is "?") is positional.
    this = node.this
    name = this.name if isinstance(this, exp.Expr) else this
    if isinstance(name, str) and name.isidentifier():
        walk.add_parameter(name)


def _check_parameter(walk: Walk, node: exp.Parameter) -> None:
    source = walk.source
    if source.policy.session_variables:
        raise Refused(
            "session_variable",
            f"User variable @{node.name} is session state and is not allowed",
            source.first_start(TokenType.PARAMETER),
        )
    if source.dialect == "sqlite" and isinstance(node.this, exp.Var):
        walk.add_parameter(node.name)  # SQLite's @name parameter


def _refuse_session_parameter(walk: Walk, node: exp.SessionParameter) -> None:
    raise Refused(
        "session_variable",
        f"System variable @@{node.name} discloses or changes server settings and is not allowed",
        walk.source.first_start(TokenType.SESSION_PARAMETER),
    )


NODE_CHECKS: tuple[tuple[tuple[type[exp.Expr], ...], NodeCheck], ...] = (
    ((exp.Column,), _collect_column),
    ((exp.Star,), _check_star),
    ((exp.TableAlias,), _record_table_alias),
    ((exp.CTE,), _record_cte_name),
    ((exp.Subquery, exp.Values, exp.Lateral), _record_derived_table),
    ((exp.Placeholder,), _collect_placeholder),
    ((exp.Parameter,), _check_parameter),
    ((exp.SessionParameter,), _refuse_session_parameter),
)


def _output_names(source: exp.Expr) -> set[str]:
    """Lower-case column names a CTE, subquery or VALUES list produces, as far as known."""
    alias = source.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return {column.name.lower() for column in alias.columns}
    body = unwrap(source.this) if isinstance(source.this, exp.Expr) else None
    if isinstance(body, exp.Query):
        return {name.lower() for name in body.named_selects}
    return set()
