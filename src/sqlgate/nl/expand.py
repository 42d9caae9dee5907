"""Semantic SQL → native SQL: models, renamed columns, calculated fields and metrics expanded.

Semantic SQL is ordinary SQL in the connection's dialect written against the semantic model:
``FROM`` names models, columns are the model's column and calculated-field names, and a metric
is used like a column of its base model (``SELECT country, revenue FROM ... GROUP BY country``).
:func:`expand_semantic_sql` rewrites it with sqlglot, scope by scope (CTEs and subqueries
included):

* a model becomes its physical table, aliased by the model name unless it has an alias;
* a column becomes the physical column, qualified by its table's alias; a projection keeps its
  semantic name as output name (``SELECT full_name`` → ``SELECT c."FirstName" AS full_name``);
* a calculated field or metric becomes its expression (in parentheses), its columns qualified
  by the alias of the model it belongs to;
* ``*`` and ``model.*`` become the model's columns under their semantic names, so hidden
  physical columns stay hidden.

Anything outside the model (an unknown table, a schema-qualified table, an unknown column) is
refused with :class:`~sqlgate.errors.SqlNotAllowed` (reason ``outside_model``), so semantic SQL
can only read what the model exposes. The input passes the SQL guard first and the output is
checked by the guard again. Pure functions: nothing here opens a connection.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import Tokenizer

from sqlgate.errors import SqlNotAllowed
from sqlgate.nl.semantic import (
    CalculatedField,
    Column,
    Metric,
    Model,
    SemanticIndex,
    SemanticModel,
    parse_expression,
)
from sqlgate.sql.guard import analyze, refusal

_SIMPLE = re.compile(r"^[a-z_][a-z0-9_]*$")
_KEYWORDS = frozenset(k for k in Tokenizer.KEYWORDS if " " not in k)
_MAX_DEPTH = 16


def quoted_if_needed(name: str) -> exp.Identifier:
    """An identifier for a physical name, quoted unless it is a plain lower-case word (engines
    that fold unquoted names to lower case would otherwise miss ``"Album"``)."""
    needs = not _SIMPLE.match(name) or name.upper() in _KEYWORDS
    return exp.to_identifier(name, quoted=needs)


def expand_semantic_sql(
    sql: str, model: SemanticModel, dialect: str, *, read: str | None = None
) -> str:
    """Native SQL for ``dialect`` from semantic SQL written in ``read`` (default: ``dialect``).

    Raises :class:`SqlSyntaxError` / :class:`SqlNotAllowed` for SQL the guard refuses or that
    reaches outside the model.
    """
    source_dialect = read or dialect
    analysis = analyze(sql, source_dialect)
    if not analysis.is_valid:
        raise refusal(analysis)
    import sqlglot

    tree = sqlglot.parse_one(sql, read=source_dialect)
    native = expand_tree(tree, SemanticIndex(model), source_dialect).sql(dialect=dialect)
    check_native(native, dialect)
    return native


def check_native(sql: str, dialect: str) -> None:
    """The guard on expanded SQL; an expansion the guard refuses is reported, never run."""
    analysis = analyze(sql, dialect)
    if not analysis.is_valid:
        raise refusal(analysis)


def outside(message: str) -> SqlNotAllowed:
    return SqlNotAllowed(message, reason="outside_model")


def expand_tree(tree: exp.Expr, index: SemanticIndex, dialect: str) -> exp.Expr:
    """Expand a parsed semantic query (a copy is changed and returned)."""
    tree = tree.copy()
    return _Expander(index, dialect).run(tree)


class _Expander:
    def __init__(self, index: SemanticIndex, dialect: str) -> None:
        self.index = index
        self.dialect = dialect
        self.table_models: dict[int, Model] = {}
        self.done: set[int] = set()
        self.parsed: dict[tuple[str, str], exp.Expr] = {}

    def run(self, tree: exp.Expr) -> exp.Expr:
        scopes = traverse_scope(tree)
        for scope in scopes:
            self._tables(scope)
        for scope in scopes:
            self._stars(scope)
            self._using(scope)
            self._columns(scope)
        for scope in scopes:
            self._rename_tables(scope)
        return tree

    # --- tables ---------------------------------------------------------------------------

    def _tables(self, scope: Scope) -> None:
        for source in scope.sources.values():
            if isinstance(source, exp.Table) and id(source) not in self.table_models:
                self.table_models[id(source)] = self._model_of(source)

    def _model_of(self, table: exp.Table) -> Model:
        if not isinstance(table.this, exp.Identifier):
            raise outside(f"{table.sql()} is not a model of the semantic model")
        if table.args.get("db") or table.args.get("catalog"):
            raise outside(f"{table.sql()}: semantic SQL names models, not schema-qualified tables")
        model = self.index.get_model(table.name)
        if model is None:
            raise outside(f"Unknown model: {table.name}")
        return model

    def _rename_tables(self, scope: Scope) -> None:
        for source in scope.sources.values():
            if not isinstance(source, exp.Table) or id(source) in self.done:
                continue
            self.done.add(id(source))
            model = self.table_models[id(source)]
            written = source.name
            source.set("this", quoted_if_needed(model.physical))
            if model.table_schema:
                source.set("db", quoted_if_needed(model.table_schema))
            if not source.alias and (written != model.physical or model.table_schema):
                source.set("alias", exp.TableAlias(this=_ident(written)))

    def _model_sources(self, scope: Scope, own: bool) -> list[tuple[str, Model]]:
        sources: dict[str, Any] = scope.selected_sources if own else scope.sources
        out = []
        for name, value in sources.items():
            node = value[0] if own else value
            if isinstance(node, exp.Table) and id(node) in self.table_models:
                out.append((name, self.table_models[id(node)]))
        return out

    # --- * ----------------------------------------------------------------------------------

    def _stars(self, scope: Scope) -> None:
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        projections: list[exp.Expr] = []
        changed = False
        own = self._model_sources(scope, own=True)
        for projection in select.expressions:
            if isinstance(projection, exp.Star):
                if any(not isinstance(v[1], exp.Table) for v in scope.selected_sources.values()):
                    projections.append(projection)  # a derived table's columns: keep *
                    continue
                for alias, model in own:
                    projections.extend(self._all_columns(alias, model))
                changed = True
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                match = [m for a, m in own if a.lower() == projection.table.lower()]
                if match:
                    projections.extend(self._all_columns(projection.table, match[0]))
                    changed = True
                else:
                    projections.append(projection)
            else:
                projections.append(projection)
        if changed:
            select.set("expressions", projections)

    def _all_columns(self, alias: str, model: Model) -> list[exp.Expr]:
        out: list[exp.Expr] = []
        for column in model.columns:
            native = exp.Column(this=quoted_if_needed(column.physical), table=_ident(alias))
            self.done.add(id(native))
            out.append(
                native if column.physical == column.name else exp.alias_(native, column.name)
            )
        return out

    def _using(self, scope: Scope) -> None:
        """``JOIN ... USING (col)``: the names are model fields; both sides must store them
        under one physical name."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        models = self._model_sources(scope, own=True)
        for join in select.args.get("joins") or []:
            using = join.args.get("using")
            if not using:
                continue
            renamed = []
            for ident in using:
                name = ident.name
                physical = {
                    found.physical
                    for _, model in models
                    if isinstance(found := self.index.get_field(model.name, name), Column)
                }
                if len(physical) != 1:
                    raise outside(
                        f"USING ({name}): not a column of the joined models under one name; "
                        "write the join with ON"
                    )
                renamed.append(quoted_if_needed(physical.pop()))
            join.set("using", renamed)

    # --- columns ----------------------------------------------------------------------------

    def _columns(self, scope: Scope) -> None:
        aliases = _projection_aliases(scope)
        for column in list(scope.columns):
            if id(column) in self.done or isinstance(column.this, exp.Star):
                continue
            self.done.add(id(column))
            replacement = self._resolve(scope, column, aliases)
            if replacement is None:
                continue
            expression, output_name = replacement
            if _is_bare_projection(column) and output_name != _output_name(expression):
                expression = exp.alias_(expression, output_name)
            column.replace(expression)

    def _resolve(
        self, scope: Scope, column: exp.Column, aliases: set[str]
    ) -> tuple[exp.Expr, str] | None:
        name = column.name
        if column.table:
            source = _get_ci(scope.sources, column.table)
            if not isinstance(source, exp.Table) or id(source) not in self.table_models:
                return None  # a CTE, derived table or outer reference: its own names
            model = self.table_models[id(source)]
            found = self._field(model, column.table, name, 0)
            if found is None:
                raise outside(f"Unknown column {column.table}.{name} (model {model.name})")
            return found, name
        for own in (True, False):
            matches = []
            for alias, model in self._model_sources(scope, own):
                found = self._field(model, alias, name, 0)
                if found is not None:
                    matches.append((alias, found))
            if len(matches) == 1:
                return matches[0][1], name
            if len(matches) > 1:
                names = ", ".join(a for a, _ in matches)
                raise outside(f"Column {name} is ambiguous: qualify it with one of {names}")
        if name.lower() in aliases:
            return None
        if any(not isinstance(s, exp.Table) for s in scope.sources.values()):
            return None  # may be a column of a CTE or derived table
        metric = self.index.get_metric(name)
        if metric is not None:
            raise outside(
                f"Metric {metric.name} is defined on model {metric.model}, which is not in FROM"
            )
        raise outside(f"Unknown column: {name}")

    def _field(self, model: Model, alias: str, name: str, depth: int) -> exp.Expr | None:
        if depth > _MAX_DEPTH:
            raise outside(f"Calculated fields of {model.name} nest too deeply")
        found = self.index.get_field(model.name, name)
        if isinstance(found, Column):
            native = exp.Column(this=quoted_if_needed(found.physical), table=_ident(alias))
            self.done.add(id(native))
            return native
        if isinstance(found, CalculatedField):
            tree = self._expression(model, alias, found.expression, depth)
            return (
                tree
                if isinstance(tree, exp.Func | exp.Column | exp.Paren)
                else exp.Paren(this=tree)
            )
        metric = self.index.get_metric(name)
        if isinstance(metric, Metric) and metric.model.lower() == model.name.lower():
            tree = self._expression(model, alias, metric.expression, depth)
            return tree if isinstance(tree, exp.Func) else exp.Paren(this=tree)
        return None

    def _expression(self, model: Model, alias: str, text: str, depth: int) -> exp.Expr:
        key = (text, self.dialect)
        if key not in self.parsed:
            try:
                self.parsed[key] = parse_expression(text, self.dialect)
            except ValueError as exc:
                raise outside(f"Expression {text!r} of model {model.name}: {exc}") from None
        tree = self.parsed[key].copy()
        for inner in list(tree.find_all(exp.Column)):
            replacement = self._field(model, alias, inner.name, depth + 1)
            if replacement is None:
                raise outside(f"Unknown field {inner.name} in model {model.name}")
            if inner is tree:
                return replacement
            inner.replace(replacement)
        return tree


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=not _SIMPLE.match(name) or name.upper() in _KEYWORDS)


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lower = key.lower()
    for name, value in mapping.items():
        if name.lower() == lower:
            return value
    return None


def _projection_aliases(scope: Scope) -> set[str]:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return set()
    return {p.alias.lower() for p in select.expressions if isinstance(p, exp.Alias)}


def _is_bare_projection(column: exp.Column) -> bool:
    parent = column.parent
    return isinstance(parent, exp.Select) and column.arg_key == "expressions"


def _output_name(expression: exp.Expr) -> str:
    return expression.output_name if isinstance(expression, exp.Column) else ""
