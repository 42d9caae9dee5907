"""Step 4 of the rule-based translator: the plan becomes a semantic SQL tree, built with sqlglot.

Every model the plan touches is joined to the root along the shortest path of relationships
(:mod:`sqlgate.nl.joins`); a count across a one-to-many join counts distinct keys. Output
columns get unique, readable aliases. The caller expands the tree into native SQL
(:mod:`sqlgate.nl.expand`).
"""

from __future__ import annotations

import re

from sqlglot import exp

from sqlgate.nl import timeexpr
from sqlgate.nl.joins import JoinPlan, plan_joins
from sqlgate.nl.rules.group_subqueries import rarest_sql, winner_sql
from sqlgate.nl.rules.negation import negations_as_absence
from sqlgate.nl.rules.parts import CannotAnswer, Filter, Measure, Plan
from sqlgate.nl.rules.role_joins import both_roles, settle_roles
from sqlgate.nl.rules.role_values import via_alias
from sqlgate.nl.rules.sql_terms import column as _col
from sqlgate.nl.rules.sql_terms import compare as _compare
from sqlgate.nl.rules.sql_terms import ident as _ident
from sqlgate.nl.rules.sql_terms import literal as _literal
from sqlgate.nl.rules.sql_terms import none_in
from sqlgate.nl.semantic import Model, SemanticIndex
from sqlgate.nl.text import identifier_words, stem


def build_query(index: SemanticIndex, dialect: str, plan: Plan) -> tuple[exp.Select, JoinPlan]:
    """The semantic SQL of ``plan`` and the joins it took; raises :class:`CannotAnswer` when
    the models it needs are not connected."""
    plan = negations_as_absence(index, plan)
    needed = _needed(plan)
    joins = plan_joins(index, plan.root, [n for n in needed if n.lower() != plan.root.lower()])
    if joins is None:
        names = ", ".join(needed)
        raise CannotAnswer(f"The models {names} are related in no way, or in several ways.")
    joins = settle_roles(index, joins, plan.words)
    return _SqlBuilder(index, dialect, plan, joins).build(), joins


def _needed(plan: Plan) -> list[str]:
    """Every model the plan names, in the order it names them, once."""
    needed: list[str] = []

    def need(model: str | None) -> None:
        if model and model.lower() not in [n.lower() for n in needed]:
            needed.append(model)

    for m in plan.measures:
        need(m.model)
    for d in plan.dimensions:
        need(d.model)
    absent = _read_inside(plan)
    for f in plan.filters:
        if (f.model and f.model.lower() in absent) or f.via or f.kind == "counted":
            continue  # read inside the NOT IN subquery, or joined once per role
        need(f.model)
        if f.measure is not None and f.measure.model:
            need(f.measure.model)
    if plan.order is not None and plan.order[1] == "field_ref":
        need(plan.order[2][0])
    for model, _ in plan.extra_columns:
        if model.lower() not in absent:
            need(model)
    return needed


#: Words that ask for every field of the rows listed, or for ones no column is named after.
_ALL_COLUMNS_WORDS = frozenset(
    ["detail", "details", "information", "info", "everything", "columns"]
)
_NAME_WORDS = frozenset(("name", "names", "their"))  # "the departments and their locations"
_ID_WORDS = frozenset(("id", "ids"))


def _columns_worded(model: Model, words: frozenset[str]) -> list[str]:
    """The model's columns a word of the question names, beyond the model's own name and
    the bare "name", "id", "is" and "has" ("the nickname and mobile of ...": ``mobile_number``
    too, even when "mobile" was read as another column), so no word of the question goes
    unshown."""
    said = {stem(w) for w in words}
    own = {stem(w) for w in identifier_words(model.name)} | {"name", "id", "is", "has"}
    out = []
    for column in model.columns:
        named = {stem(w) for w in identifier_words(column.name)} - own
        if named & said:
            out.append(column.name)
    return out


def _label_set(model: Model) -> set[str]:
    return {c.lower() for c in model.label_columns}


def _read_inside(plan: Plan) -> set[str]:
    """The models read inside a "without" subquery (its model and those beyond it), or inside
    the subquery that counts related rows ("more than 1 baker older than 30") when nothing else
    reads them."""
    inside: set[str] = set()
    for f in plan.filters:
        if f.kind == "absent" and f.model:
            inside |= {m.lower() for m in (f.model, *f.inside)}
    outside = {m.model.lower() for m in plan.measures} | {m.lower() for m, _ in plan.extra_columns}
    outside |= {d.model.lower() for d in plan.dimensions if d.model}
    counted = {str(f.model).lower() for f in plan.filters if f.kind == "counted" and f.model}
    return inside | (counted - outside)


class _SqlBuilder:
    """One SELECT in the making: its projections, grouping and the aliases given out so far."""

    def __init__(self, index: SemanticIndex, dialect: str, plan: Plan, joins: JoinPlan) -> None:
        self.index = index
        self.dialect = dialect
        self.plan = plan
        self.joins = joins
        self.fan_out = joins.fans_out
        self.group: list[exp.Expr] = []
        self.projections: list[exp.Expr] = []
        self.used_names: set[str] = set()
        self.dimension_aliases: list[str] = []
        self.measure_aliases: dict[int, str] = {}

    def build(self) -> exp.Select:
        plan = self.plan
        select = self._from_and_joins()
        self._dimensions()
        for m in plan.measures:
            expr, name = measure_sql(self.index, m, self.fan_out)
            alias = self._output(name)
            self.measure_aliases[id(m)] = alias
            self.projections.append(exp.alias_(expr, _ident(alias)))
        if plan.listing:
            self._listing_columns()
        select = select.select(*self.projections)
        select = self._conditions(select)
        if plan.listing and (self.fan_out or plan.distinct):
            select = select.distinct()
        select = self._ordered(select)
        if plan.limit is not None:
            select = select.limit(plan.limit)
        return select

    def _output(self, name: str) -> str:
        """A unique output alias for ``name``."""
        base = re.sub(r"\W+", "_", name).strip("_").lower() or "value"
        candidate, n = base, 2
        while candidate in self.used_names:
            candidate, n = f"{base}_{n}", n + 1
        self.used_names.add(candidate)
        return candidate

    def _from_and_joins(self) -> exp.Select:
        select = exp.Select().from_(exp.Table(this=_ident(self.joins.root)))
        for step in self.joins.steps:
            on = exp.and_(
                *(
                    exp.EQ(this=_col(step.left, lc), expression=_col(step.right, rc))
                    for lc, rc in zip(step.left_columns, step.right_columns, strict=True)
                )
            )
            select = select.join(exp.Table(this=_ident(step.right)), on=on)
        ways = dict.fromkeys((f.via, str(f.model), f.back) for f in self.plan.filters if f.via)
        for via, model, back in ways:
            target = self.index.get_model(model)
            root = self.index.get_model(self.joins.root)
            assert target is not None
            assert root is not None
            alias = via_alias(model, via, back)
            on = (
                exp.EQ(this=_col(alias, via[0]), expression=_col(root.name, root.primary_key[0]))
                if back  # "Jane's manager": the row Jane's column points to is the root's
                else exp.EQ(
                    this=_col(self.joins.root, via[0]),
                    expression=_col(alias, target.primary_key[0]),
                )
            )
            table = exp.Table(this=_ident(model), alias=exp.TableAlias(this=_ident(alias)))
            select = select.join(table, on=on)
        return select

    def _grouped(self, expr: exp.Expr, alias: str) -> None:
        self.projections.append(exp.alias_(expr, _ident(alias)))
        self.group.append(expr.copy())
        self.dimension_aliases.append(alias)

    def _dimensions(self) -> None:
        for d in self.plan.dimensions:
            expr: exp.Expr
            if d.kind == "model":
                dim_model = self.index.get_model(str(d.model))
                assert dim_model is not None
                for name in _model_display(dim_model):
                    expr = _col(dim_model.name, name)
                    alias = self._output(
                        name if name.lower() not in self.used_names else f"{dim_model.name}_{name}"
                    )
                    self._grouped(expr, alias)
            elif d.kind == "grain":
                expr = timeexpr.bucket(_col(str(d.model), str(d.name)), str(d.grain), self.dialect)
                self._grouped(expr, self._output(str(d.grain)))
            else:
                expr = _col(str(d.model), str(d.name))
                self._grouped(expr, self._output(str(d.name)))

    def _listing_columns(self) -> None:
        plan = self.plan
        base = self.index.get_model(plan.root)
        assert base is not None
        if plan.only_columns:
            self._asked_columns(base)
            return
        for name in self._root_columns(base):
            self.projections.append(_col(base.name, name))
            self.used_names.add(name.lower())
        inside = _read_inside(plan)
        for model, name in plan.extra_columns:
            if model.lower() in inside:
                raise CannotAnswer(f"The question reads {model} both inside and outside 'without'.")
            if model.lower() != base.name.lower():
                self.projections.append(
                    exp.alias_(_col(model, name), _ident(self._output(f"{model}_{name}")))
                )
        if plan.order is not None and plan.order[1] == "field_ref":
            model, name = plan.order[2]
            if model.lower() != base.name.lower():
                self.projections.append(
                    exp.alias_(_col(model, name), _ident(self._output(f"{model}_{name}")))
                )

    def _root_columns(self, base: Model) -> list[str]:
        """The root's fields the question names ("the first name and age of members who ..."),
        with the column it is sorted by, and its key when rows are made distinct (two members
        of one name stay two rows); every column when none is named, or when a distinct list
        has no key to keep its rows apart."""
        plan, root = self.plan, base.name.lower()
        fixed = {  # "the shop with code 'X'": a field fixed by a value is not asked
            str(f.name).lower()
            for f in plan.filters
            if f.kind == "values" and not f.negated and len(f.values) == 1 and not f.via
            if str(f.model).lower() == root
        }
        asked = [n for m, n in plan.extra_columns if m.lower() == root and n.lower() not in fixed]
        if plan.order is not None and plan.order[1] == "field_ref":
            model, name = plan.order[2]
            if model.lower() == root and asked:
                asked.append(name)
        key = list(base.primary_key)
        if not asked or (self.fan_out and not key) or plan.words & _ALL_COLUMNS_WORDS:
            return [c.name for c in base.columns]
        asked += _columns_worded(base, plan.words)  # a column a word names: shown, mapped or not
        lower = {n.lower() for n in asked}
        if base.label_columns and plan.words & _NAME_WORDS and not lower & _label_set(base):
            asked = [base.label_columns[0], *asked]  # "the names and ages": "names" unmapped
        if self.fan_out or plan.distinct or plan.words & _ID_WORDS:
            asked = [*key, *asked]  # one row per row listed; or "the ids and ..." unmapped
        return list(dict.fromkeys(asked))

    def _asked_columns(self, base: Model) -> None:
        """The fields asked, else the root's key and label: one part of a set question."""
        asked = self.plan.extra_columns or [(base.name, n) for n in _model_display(base)]
        for model, name in asked:
            alias = name if name.lower() not in self.used_names else f"{model}_{name}"
            self.projections.append(exp.alias_(_col(model, name), _ident(self._output(alias))))

    def _conditions(self, select: exp.Select) -> exp.Select:
        """WHERE, GROUP BY and HAVING."""
        where: list[exp.Expr] = []
        having: list[exp.Expr] = []
        absent = _read_inside(self.plan)
        for f in self.plan.filters:
            joined = {m.lower() for m in self.joins.models}
            if f.kind == "absent" and not f.negated and str(f.model).lower() in joined:
                continue  # "students who have likes, and how many": the join keeps only those
            if f.kind == "absent" and f.alternative and where:
                where[-1] = exp.Paren(this=exp.or_(where[-1], self._absent(f)))
                continue
            if f.kind == "absent":
                where.append(self._absent(f))
                continue
            if f.model and f.model.lower() in absent and f.kind != "counted":
                continue
            if f.kind == "counted":
                condition: exp.Expr | None = self._counted(f)
            else:
                condition = condition_sql(self.index, f, self.fan_out)
            if condition is None:
                continue
            if f.via:  # the model's alias for this role
                alias = via_alias(str(f.model), f.via, f.back)
                for column in condition.find_all(exp.Column):
                    column.set("table", _ident(alias))
            target = having if f.kind == "having" else where
            if f.alternative and target:
                target[-1] = exp.Paren(this=exp.or_(target[-1], condition))  # "... or ..."
            else:
                target.append(condition)
        if where:
            select = select.where(exp.and_(*where))
        if self.group and self.plan.measures:
            select = select.group_by(*self.group)
        if having:
            select = select.having(exp.and_(*having))
        return select

    def _absent(self, f: Filter) -> exp.Expr:
        """``root.key NOT IN (SELECT the key FROM the absent model ...)``: rows of the root
        with no related row of ``f.model`` (the filters on that model apply inside). Related
        in two ways and both named ("depots without departing or arriving shipments"): one
        subquery per way, none matching (or, for rows with some, either)."""
        root, absent = self.plan.root, str(f.model)
        path = plan_joins(self.index, absent, [root])
        if path is None or not path.steps or absent.lower() == root.lower():
            raise CannotAnswer(f"I could not relate {absent} to {root} to find rows without it.")
        if any(s.right.lower() in {m.lower() for m in path.models} for s in self.joins.steps):
            raise CannotAnswer(f"The question reads {absent} both inside and outside 'without'.")
        try:
            paths = [
                settle_roles(self.index, path, self.plan.words, passive=f.passive, verb=f.words)
            ]
        except CannotAnswer:
            paths = both_roles(self.index, path, self.plan.words)
        related = [self._related_in(f, p) for p in paths]
        if f.negated:  # a root row referring to nothing (NULL) has no related row either
            keys = {k.lower() for k in getattr(self.index.get_model(root), "primary_key", [])}
            return exp.and_(*(none_in(r, keys) for r in related))
        return related[0] if len(related) == 1 else exp.Paren(this=exp.or_(*related))

    def _counted(self, f: Filter) -> exp.Expr:
        """``root.key IN (SELECT the key FROM the model GROUP BY it HAVING COUNT(*) > n)``:
        "the depots with notes 'y' *or* more than 2 vans", where a HAVING cannot say "or"."""
        assert f.measure is not None
        root, model = self.plan.root, str(f.model)
        path = plan_joins(self.index, model, [root])
        if path is None or not path.steps or model.lower() == root.lower():
            raise CannotAnswer(f"I could not relate {model} to {root} to count its rows.")
        path = settle_roles(self.index, path, self.plan.words, passive=f.passive, verb=f.words)
        inner, inner_key, outer_key = _keys_along(model, root, path)
        count, _ = measure_sql(self.index, f.measure, len(path.steps) > 1)
        inside = model.lower() in _read_inside(self.plan)
        own = [  # "more than 1 baker older than 30": the rows counted are those
            condition_sql(self.index, g, False)
            for g in self.plan.filters
            if inside
            and g.kind in ("values", "compare", "range")
            and str(g.model).lower() == model.lower()
        ]
        fewer = f.op in ("<", "<=")  # "fewer than 2 vans": not among those with 2 or more
        if fewer:
            own.append(exp.Not(this=exp.Is(this=inner_key.copy(), expression=exp.Null())))
        if any(c is not None for c in own):
            inner = inner.where(exp.and_(*(c for c in own if c is not None)))
        op = {"<": ">=", "<=": ">"}.get(f.op, f.op)
        inner = inner.group_by(inner_key.copy()).having(_compare(count, op, f.values))
        found = exp.In(this=outer_key, query=exp.Subquery(this=inner))
        return exp.Not(this=found) if fewer else found

    def _related_in(self, f: Filter, path: JoinPlan) -> exp.Expr:
        """``root.key IN (SELECT the key FROM the related model ... along path)``."""
        absent = str(f.model)
        inner, inner_key, outer_key = _keys_along(absent, self.plan.root, path)
        inner = self._beyond(inner, f, path)
        conditions: list[exp.Expr] = [
            exp.Not(this=exp.Is(this=inner_key.copy(), expression=exp.Null()))
        ]
        for other in self.plan.filters:
            if other.kind not in ("absent", "having", "counted") and (other.model or "") in (
                absent,
                *f.inside,
            ):
                condition = condition_sql(self.index, other, False)
                if condition is not None and other.alternative and len(conditions) > 1:
                    conditions[-1] = exp.Paren(this=exp.or_(conditions[-1], condition))
                elif condition is not None:
                    conditions.append(condition)
        inner = inner.where(exp.and_(*conditions))
        return exp.In(this=outer_key, query=exp.Subquery(this=inner))

    def _beyond(self, inner: exp.Select, f: Filter, path: JoinPlan) -> exp.Select:
        """The joins, inside the subquery of ``f``, to the models read beyond its model."""
        joined = {m.lower() for m in path.models[:-1]}
        for model in f.inside:
            extra = plan_joins(self.index, str(f.model), [model])
            if extra is None:
                raise CannotAnswer(f"I could not relate {model} to {f.model}.")
            for step in extra.steps:
                if step.right.lower() in joined:
                    continue
                on = exp.and_(
                    *(
                        exp.EQ(this=_col(step.left, lc), expression=_col(step.right, rc))
                        for lc, rc in zip(step.left_columns, step.right_columns, strict=True)
                    )
                )
                inner = inner.join(exp.Table(this=_ident(step.right)), on=on)
                joined.add(step.right.lower())
        return inner

    def _grouped_order(self, model: str, name: str) -> exp.Expr:
        """The field the rows are ordered by; of grouped rows, the figure of it asked ("the
        total of orders per bakery, sorted by the total"), never one row's value of it."""
        column = _col(model, name)
        if not (self.group and self.plan.measures) or column in self.group:
            return column
        for m in self.plan.measures:
            same = (m.model.lower(), str(m.name).lower()) == (model.lower(), name.lower())
            if same and id(m) in self.measure_aliases:
                return exp.column(_ident(self.measure_aliases[id(m)]))
        raise CannotAnswer(f"The rows are grouped, so they cannot be ordered by {model}.{name}.")

    def _ordered(self, select: exp.Select) -> exp.Select:
        plan = self.plan
        order = plan.order
        if order is not None:
            direction = order[0] == "desc"
            if order[1] == "measure" and id(order[2]) in self.measure_aliases:
                target: exp.Expr = exp.column(_ident(self.measure_aliases[id(order[2])]))
            elif order[1] == "field_ref":
                target = self._grouped_order(order[2][0], order[2][1])
            else:
                target = None  # type: ignore[assignment]
            if target is not None:
                select = select.order_by(exp.Ordered(this=target, desc=direction))
        elif self.group and plan.measures:
            if any(d.grain for d in plan.dimensions):  # periods in time order
                select = select.order_by(*(exp.column(_ident(a)) for a in self.dimension_aliases))
            elif plan.measures:
                first = self.measure_aliases[id(plan.measures[0])]
                select = select.order_by(exp.Ordered(this=exp.column(_ident(first)), desc=True))
        return select


def _keys_along(model: str, root: str, path: JoinPlan) -> tuple[exp.Select, exp.Column, exp.Column]:
    """``SELECT <the key that leads to root> FROM model JOIN ...`` along ``path`` (from
    ``model`` to ``root``), that key, and the root's column it matches."""
    last = path.steps[-1]
    if len(last.left_columns) != 1:
        raise CannotAnswer(f"{model} is related to {root} by a key of several columns.")
    inner_key = _col(last.left, last.left_columns[0])
    inner = exp.Select().select(inner_key).from_(exp.Table(this=_ident(model)))
    for step in path.steps[:-1]:
        on = exp.and_(
            *(
                exp.EQ(this=_col(step.left, lc), expression=_col(step.right, rc))
                for lc, rc in zip(step.left_columns, step.right_columns, strict=True)
            )
        )
        inner = inner.join(exp.Table(this=_ident(step.right)), on=on)
    return inner, inner_key, _col(last.right, last.right_columns[0])


keys_along = _keys_along  # for the subqueries other modules build


def measure_sql(index: SemanticIndex, m: Measure, fan_out: bool) -> tuple[exp.Expr, str]:
    """The expression of measure ``m`` and the name its output column is made from."""
    if m.func == "count":
        model = index.get_model(m.model)
        assert model is not None
        if fan_out and len(model.primary_key) == 1:
            key = _col(model.name, model.primary_key[0])
            return exp.Count(this=exp.Distinct(expressions=[key])), f"count_{model.name}"
        return exp.Count(this=exp.Star()), f"count_{model.name}"
    if m.func == "metric":
        return _col(m.model, str(m.name)), str(m.name)
    column = _col(m.model, str(m.name))
    if m.func == "count_distinct":
        return exp.Count(this=exp.Distinct(expressions=[column])), f"count_distinct_{m.name}"
    func = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[m.func]
    return func(this=_as_number(index, m.model, str(m.name), column)), f"{m.func}_{m.name}"


def condition_sql(index: SemanticIndex, f: Filter, fan_out: bool) -> exp.Expr | None:
    """The condition of filter ``f`` (None when it names no column)."""
    if f.kind == "having":
        assert f.measure is not None
        expr, _ = measure_sql(index, f.measure, True)
        return _compare(expr, f.op, f.values)
    if f.model is None or f.name is None:
        return None
    column = _col(f.model, f.name)
    if f.kind == "range":
        assert f.range is not None
        parts: list[exp.Expr] = []
        if f.range.start is not None:
            parts.append(
                exp.GTE(this=column, expression=exp.Literal.string(f.range.start.isoformat()))
            )
        if f.range.end is not None:
            parts.append(
                exp.LT(this=column.copy(), expression=exp.Literal.string(f.range.end.isoformat()))
            )
        return exp.and_(*parts) if parts else None
    if f.kind == "winner":
        return winner_sql(f, column)
    if f.kind == "rarest":
        return rarest_sql(f, column)
    if f.kind == "like":
        pattern = exp.Literal.string(f"%{f.values[0]}%")
        return exp.Like(this=column, expression=pattern)
    if f.kind == "compare":
        target = _as_number(index, f.model, f.name, column)
        condition: exp.Expr
        if f.overall and f.op == "in" and f.figure is not None:  # the groups a subquery keeps
            condition = exp.In(this=column, query=exp.Subquery(this=f.figure.copy()))
        elif f.overall:
            condition = _compare(target, f.op, [_overall(index, f)])
        else:
            condition = _compare(target, f.op, f.values)
        return exp.Not(this=condition) if f.negated else condition
    # values; a yes or no on a column of 0 and 1 ("discontinued INTEGER") as 1 or 0
    numeric = not _BOOLEAN_TYPE.search(getattr(index.get_field(f.model, f.name), "type", "") or "")
    literals = [_literal(int(v) if isinstance(v, bool) and numeric else v) for v in f.values]
    matches: exp.Expr
    if len(literals) == 1:
        matches = exp.EQ(this=column, expression=literals[0])
    else:
        matches = exp.In(this=column, expressions=literals)
    if f.negated:
        if isinstance(matches, exp.EQ):
            return exp.NEQ(this=matches.this, expression=matches.expression)
        return exp.Not(this=matches)
    return matches


# --- SQL pieces ---------------------------------------------------------------------------------


def _as_number(index: SemanticIndex, model: str, name: str, column: exp.Column) -> exp.Expr:
    """``column``, cast to a number when it is stored as text ("age VARCHAR")."""
    field = index.get_field(model, name)
    type_name = getattr(field, "type", None) or ""
    if TEXT_TYPE.search(type_name):
        return exp.Cast(this=column, to=exp.DataType.build("DOUBLE"))
    return column


#: Column types that hold yes or no.
_BOOLEAN_TYPE = re.compile(r"bool|bit\b", re.IGNORECASE)
#: Column types that hold text (a number or date stored as text is cast to compare it).
TEXT_TYPE = re.compile(r"char|text|string|clob", re.IGNORECASE)


def _overall(index: SemanticIndex, f: Filter) -> exp.Expr:
    """ "the average age": the aggregate of the field over its whole model, as a subquery."""
    assert f.model is not None
    assert f.name is not None
    assert f.overall is not None
    if f.figure is not None:  # "than the average age of bakers in Leeds": of some rows only
        return exp.Subquery(this=f.figure.copy())
    if f.overall.startswith("row_") and f.measure is not None and f.measure.name:
        return _row_figure(index, f, f.measure.model, f.measure.name)
    if f.overall == "metric" and f.measure is not None and f.measure.name:
        source = f.measure.model
        inner = exp.select(_col(source, f.measure.name)).from_(exp.Table(this=_ident(source)))
        return exp.Subquery(this=inner)
    column = _as_number(index, f.model, f.name, _col(f.model, f.name))
    func = {"avg": exp.Avg, "sum": exp.Sum, "min": exp.Min, "max": exp.Max}[f.overall]
    inner = exp.select(func(this=column)).from_(exp.Table(this=_ident(f.model)))
    return exp.Subquery(this=inner)


def _row_figure(index: SemanticIndex, f: Filter, model: str, ranked: str) -> exp.Expr:
    """ "than the tree with the largest girth": the field of the row ranked first."""
    assert f.model is not None
    assert f.name is not None
    field = index.get_field(model, ranked)
    if TEXT_TYPE.search(getattr(field, "type", None) or ""):
        raise CannotAnswer(
            f"{model}.{ranked} is stored as text; picking the one row it ranks first to compare "
            "with is not reliable (text may hold values that are not numbers)."
        )
    ordered = exp.Ordered(this=_col(model, ranked), desc=f.overall == "row_desc", nulls_first=False)
    column = _as_number(index, f.model, f.name, _col(f.model, f.name))
    inner = exp.select(column).from_(exp.Table(this=_ident(model))).order_by(ordered).limit(1)
    return exp.Subquery(this=inner)


def _model_display(model: Model) -> list[str]:
    names: list[str] = []
    for key in model.primary_key:
        names.append(key)
    for label in model.label_columns:
        if label not in names:
            names.append(label)
    if not names and model.columns:
        names.append(model.columns[0].name)
    return names
