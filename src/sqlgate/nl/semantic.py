"""The semantic model of a connection: the vocabulary questions and semantic SQL are written in.

A semantic model names the *models* (tables or views, possibly under another name), their
*columns* (possibly renamed), *calculated fields* (row-level expressions over a model's columns),
*metrics* (named aggregate expressions on a base model), *relationships* (join keys between
models), plain-language *instructions* and question→SQL *examples*. Descriptions and synonyms
help both the embedded engine and an LLM map words to the right parts.

It is written in YAML or JSON (see ``docs/nl.md``)::

    version: 1
    models:
      - name: clients                 # the name questions and semantic SQL use
        table: customers              # the physical table (default: the name)
        synonyms: [customers, buyers]
        primary_key: customer_id
        time_column: signup_date      # the date "in 2023" filters on by default
        columns:
          - name: customer_id
          - name: country
            synonyms: [nation]
    metrics:
      - {name: revenue, model: orders, expression: sum(total_amount), synonyms: [sales]}
    relationships:
      - {from: orders.customer_id, to: clients.customer_id, type: many_to_one}

:func:`parse_semantic_model` reads either format and checks every reference; each problem is
reported with the path of the field (``models[1].columns[0].name``) in a
:class:`~sqlgate.errors.ValidationError`. Expressions are parsed with sqlglot in the connection's
dialect and may use only their own model's columns: no subqueries, no other tables, so a model can
never widen what questions can read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import sqlglot
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from sqlgate.errors import ValidationError

#: Names questions and semantic SQL use: plain identifiers, so they never need quoting.
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_NAME = re.compile(NAME_PATTERN)
MAX_EXPRESSION_CHARS = 4_000


def _as_list(value: Any) -> Any:
    """``primary_key: id`` and ``from: orders.customer_id`` may be one string or a list."""
    return [value] if isinstance(value, str) else value


Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=128)]
Text = Annotated[str, Field(max_length=4_000)]
Synonyms = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=200)]], Field(max_length=100)
]
NameList = Annotated[list[Name], BeforeValidator(_as_list)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Column(_Spec):
    """A column of a model; ``column`` is its physical name when it is renamed."""

    name: Name
    column: str | None = Field(default=None, min_length=1, max_length=256)
    type: str | None = Field(default=None, max_length=200)
    description: Text | None = None
    synonyms: Synonyms = []

    @property
    def physical(self) -> str:
        return self.column or self.name


class CalculatedField(_Spec):
    """A row-level expression over its model's columns, usable like a column."""

    name: Name
    expression: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)
    type: str | None = Field(default=None, max_length=200)
    description: Text | None = None
    synonyms: Synonyms = []


class Model(_Spec):
    """A table or view under the name questions use."""

    name: Name
    table: str | None = Field(default=None, min_length=1, max_length=256)
    table_schema: str | None = Field(default=None, min_length=1, max_length=256)
    description: Text | None = None
    synonyms: Synonyms = []
    primary_key: NameList = []
    #: Columns that name a row to a person (``name``, ``title``); shown when grouping by the model.
    label_columns: NameList = []
    #: The date or timestamp column that "in 2023", "last month" and "by month" apply to.
    time_column: Name | None = None
    columns: Annotated[list[Column], Field(max_length=2_000)] = []
    calculated_fields: Annotated[list[CalculatedField], Field(max_length=500)] = []

    @property
    def physical(self) -> str:
        return self.table or self.name


class Metric(_Spec):
    """A named aggregate over a base model, e.g. ``revenue = sum(line_total)`` on order lines."""

    name: Name
    model: Name
    expression: str = Field(min_length=1, max_length=MAX_EXPRESSION_CHARS)
    description: Text | None = None
    synonyms: Synonyms = []


class Relationship(_Spec):
    """Join keys between two models: ``from`` columns reference ``to`` columns."""

    name: Name | None = None
    from_: Annotated[list[str], BeforeValidator(_as_list), Field(alias="from", min_length=1)]
    to: Annotated[list[str], BeforeValidator(_as_list), Field(min_length=1)]
    type: Literal["many_to_one", "one_to_one", "one_to_many"] = "many_to_one"


class Example(_Spec):
    """A question and the semantic SQL that answers it."""

    question: str = Field(min_length=1, max_length=2_000)
    sql: str = Field(min_length=1, max_length=20_000)


class SemanticModel(_Spec):
    version: Literal[1] = 1
    models: Annotated[list[Model], Field(max_length=5_000)] = []
    metrics: Annotated[list[Metric], Field(max_length=2_000)] = []
    relationships: Annotated[list[Relationship], Field(max_length=10_000)] = []
    instructions: Annotated[list[Text], Field(max_length=200)] = []
    examples: Annotated[list[Example], Field(max_length=500)] = []

    def to_dict(self) -> dict[str, Any]:
        """The model as plain data, in the file format (``from``, no unset defaults)."""
        return self.model_dump(by_alias=True, exclude_defaults=True, mode="json")

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


# --- lookups ----------------------------------------------------------------------------------


Field_ = Column | CalculatedField


@dataclass(frozen=True)
class Join:
    """One relationship seen from ``left``: ``left.left_columns = right.right_columns``.

    ``to_one`` is true when each ``left`` row matches at most one ``right`` row (no fan-out)."""

    left: str
    right: str
    left_columns: tuple[str, ...]
    right_columns: tuple[str, ...]
    to_one: bool


class SemanticIndex:
    """Case-insensitive lookups over a validated model (cheap to build; build once per use)."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.models: dict[str, Model] = {m.name.lower(): m for m in model.models}
        self.fields: dict[str, dict[str, Field_]] = {}
        for m in model.models:
            fields: dict[str, Field_] = {c.name.lower(): c for c in m.columns}
            for calc in m.calculated_fields:
                fields.setdefault(calc.name.lower(), calc)
            self.fields[m.name.lower()] = fields
        self.metrics: dict[str, Metric] = {m.name.lower(): m for m in model.metrics}
        self.joins: dict[str, list[Join]] = {m.name.lower(): [] for m in model.models}
        for rel in model.relationships:
            left, lcols = _split_refs(rel.from_)
            right, rcols = _split_refs(rel.to)
            lkey, rkey = left.lower(), right.lower()
            if lkey not in self.joins or rkey not in self.joins:
                continue
            left_name, right_name = self.models[lkey].name, self.models[rkey].name
            self.joins[lkey].append(
                Join(left_name, right_name, lcols, rcols, rel.type != "one_to_many")
            )
            self.joins[rkey].append(
                Join(right_name, left_name, rcols, lcols, rel.type != "many_to_one")
            )

    def get_model(self, name: str) -> Model | None:
        return self.models.get(name.lower())

    def get_field(self, model: str, name: str) -> Field_ | None:
        return self.fields.get(model.lower(), {}).get(name.lower())

    def get_metric(self, name: str) -> Metric | None:
        return self.metrics.get(name.lower())


def _split_refs(refs: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """``["orders.customer_id", ...]`` → ``("orders", ("customer_id", ...))`` (validated)."""
    model = refs[0].split(".", 1)[0]
    return model, tuple(ref.split(".", 1)[1] for ref in refs)


# --- parsing ----------------------------------------------------------------------------------


class _NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML without anchors and aliases: a few aliases can expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in a semantic model",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def load_document(text: str | bytes, format: Literal["yaml", "json"] | None = None) -> Any:
    """The plain data in a YAML or JSON document (JSON when it starts with ``{``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("The semantic model is not UTF-8 text", path="") from None
    if format is None:
        format = "json" if text.lstrip().startswith("{") else "yaml"
    if format == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"The semantic model is not valid JSON: {exc.msg} (line {exc.lineno}, "
                f"column {exc.colno})",
                path="",
                line=exc.lineno,
                column=exc.colno,
            ) from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        where = f" (line {line}, column {column})" if line is not None else ""
        raise ValidationError(
            f"The semantic model is not valid YAML: {exc.problem}{where}",
            path="",
            line=line,
            column=column,
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"The semantic model is not valid YAML: {exc}", path="") from None


def parse_semantic_model(
    text: str | bytes,
    *,
    format: Literal["yaml", "json"] | None = None,
    dialect: str | None = None,
) -> SemanticModel:
    """Read and validate a semantic model written in YAML or JSON.

    ``dialect`` is the sqlglot dialect expressions are written in (the connection's).
    Raises :class:`ValidationError` whose ``path`` names the first bad field and whose
    ``errors`` list every problem found.
    """
    return semantic_model_from_data(load_document(text, format), dialect=dialect)


def semantic_model_from_data(data: Any, *, dialect: str | None = None) -> SemanticModel:
    """Validate already-parsed data (e.g. a JSON request body) as a semantic model."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValidationError(
            "A semantic model is a mapping with `models`, `metrics`, `relationships`, ...",
            path="",
        )
    try:
        model = SemanticModel.model_validate(data)
    except PydanticValidationError as exc:
        problems = [(_path(e["loc"]), _message(e)) for e in exc.errors()]
        raise _error(problems) from None
    problems = list(check_references(model, dialect=dialect))
    if problems:
        raise _error(problems)
    return model


def _error(problems: list[tuple[str, str]]) -> ValidationError:
    path, message = problems[0]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return ValidationError(
        f"Invalid semantic model: {path or 'document'}: {message}{more}",
        path=path,
        errors=[{"path": p, "message": m} for p, m in problems[:50]],
    )


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith("function-"):
            continue  # pydantic's name for a BeforeValidator step
        else:
            out += ("." if out else "") + str(part)
    return out


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "string_pattern_mismatch":
        return "must be a plain name: letters, digits and _, not starting with a digit"
    return str(error.get("msg", "invalid value"))


# --- cross-reference checks -------------------------------------------------------------------


def check_references(
    model: SemanticModel, *, dialect: str | None = None
) -> Iterator[tuple[str, str]]:
    """Every problem with names and references, as ``(path, message)``."""
    index = SemanticIndex(model)
    seen_models: dict[str, int] = {}
    for i, m in enumerate(model.models):
        where = f"models[{i}]"
        key = m.name.lower()
        if key in seen_models:
            yield f"{where}.name", f"duplicate model name {m.name!r}"
        seen_models.setdefault(key, i)
        yield from _check_model(m, where, dialect)
    seen_metrics: set[str] = set()
    for i, metric in enumerate(model.metrics):
        where = f"metrics[{i}]"
        key = metric.name.lower()
        if key in seen_metrics:
            yield f"{where}.name", f"duplicate metric name {metric.name!r}"
        seen_metrics.add(key)
        if key in index.models:
            yield f"{where}.name", f"metric name {metric.name!r} is also a model name"
        base = index.get_model(metric.model)
        if base is None:
            yield f"{where}.model", f"unknown model {metric.model!r}"
            continue
        if index.get_field(base.name, metric.name) is not None:
            yield f"{where}.name", f"metric name {metric.name!r} is also a field of {base.name}"
        yield from _check_expression(
            metric.expression, base, f"{where}.expression", dialect, aggregate=True
        )
    for i, rel in enumerate(model.relationships):
        yield from _check_relationship(rel, index, f"relationships[{i}]")


def _check_model(m: Model, where: str, dialect: str | None) -> Iterator[tuple[str, str]]:
    names: set[str] = set()
    for j, column in enumerate(m.columns):
        if column.name.lower() in names:
            yield f"{where}.columns[{j}].name", f"duplicate column name {column.name!r}"
        names.add(column.name.lower())
    for j, calc in enumerate(m.calculated_fields):
        if calc.name.lower() in names:
            yield (
                f"{where}.calculated_fields[{j}].name",
                f"{calc.name!r} is already a column or calculated field of {m.name}",
            )
        names.add(calc.name.lower())
    columns = {c.name.lower() for c in m.columns}
    for j, key in enumerate(m.primary_key):
        if key.lower() not in columns:
            yield f"{where}.primary_key[{j}]", f"unknown column {key!r} in model {m.name}"
    for j, label in enumerate(m.label_columns):
        if label.lower() not in names:
            yield f"{where}.label_columns[{j}]", f"unknown column {label!r} in model {m.name}"
    if m.time_column is not None and m.time_column.lower() not in names:
        yield f"{where}.time_column", f"unknown column {m.time_column!r} in model {m.name}"
    for j, calc in enumerate(m.calculated_fields):
        yield from _check_expression(
            calc.expression, m, f"{where}.calculated_fields[{j}].expression", dialect,
            aggregate=False,
        )  # fmt: skip
    yield from _check_cycles(m, where, dialect)


def parse_expression(text: str, dialect: str | None) -> exp.Expr:
    """A model expression as a sqlglot tree (raises ``ValueError`` with the parser's reason)."""
    try:
        tree = sqlglot.parse_one(text, read=dialect or None)
    except (ParseError, TokenError) as exc:
        raise ValueError(str(exc).splitlines()[0] if str(exc) else "does not parse") from None
    if tree is None:
        raise ValueError("empty expression")
    return tree


def _check_expression(
    text: str, model: Model, path: str, dialect: str | None, *, aggregate: bool
) -> Iterator[tuple[str, str]]:
    try:
        tree = parse_expression(text, dialect)
    except ValueError as exc:
        yield path, f"does not parse as SQL: {exc}"
        return
    if isinstance(tree, exp.Query) or tree.find(exp.Query, exp.Table, exp.Subquery) is not None:
        yield path, "an expression may not contain queries, subqueries or tables"
        return
    if tree.find(exp.Star) is not None and not _only_count_star(tree):
        yield path, "an expression may not use *"
        return
    if not aggregate and tree.find(exp.AggFunc) is not None:
        yield path, "a calculated field is per row: no aggregate functions (use a metric)"
    if tree.find(exp.Window) is not None:
        yield path, "window functions are not allowed in model expressions"
    fields = {c.name.lower() for c in model.columns} | {
        c.name.lower() for c in model.calculated_fields
    }
    for column in tree.find_all(exp.Column):
        table = column.table
        if table and table.lower() != model.name.lower():
            yield path, f"{column.sql()} is not a field of model {model.name}"
        elif column.name.lower() not in fields:
            yield path, f"unknown field {column.name!r} in model {model.name}"


def _only_count_star(tree: exp.Expr) -> bool:
    return all(isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star))


def _check_cycles(m: Model, where: str, dialect: str | None) -> Iterator[tuple[str, str]]:
    calcs = {c.name.lower(): c for c in m.calculated_fields}
    uses: dict[str, set[str]] = {}
    for name, calc in calcs.items():
        try:
            tree = parse_expression(calc.expression, dialect)
        except ValueError:
            continue
        uses[name] = {c.name.lower() for c in tree.find_all(exp.Column)} & calcs.keys()
    for j, calc in enumerate(m.calculated_fields):
        stack, seen = list(uses.get(calc.name.lower(), ())), set()
        while stack:
            name = stack.pop()
            if name == calc.name.lower():
                yield (
                    f"{where}.calculated_fields[{j}].expression",
                    f"calculated field {calc.name!r} refers to itself",
                )
                break
            if name not in seen:
                seen.add(name)
                stack.extend(uses.get(name, ()))


def _check_relationship(
    rel: Relationship, index: SemanticIndex, where: str
) -> Iterator[tuple[str, str]]:
    if len(rel.from_) != len(rel.to):
        yield f"{where}.to", "`from` and `to` need the same number of columns"
        return
    for side, refs in (("from", rel.from_), ("to", rel.to)):
        model_names = set()
        for k, ref in enumerate(refs):
            path = f"{where}.{side}[{k}]" if len(refs) > 1 else f"{where}.{side}"
            model_name, dot, column = ref.partition(".")
            if not dot or not column:
                yield path, f"{ref!r} must be written model.column"
                continue
            model_names.add(model_name.lower())
            model = index.get_model(model_name)
            if model is None:
                yield path, f"unknown model {model_name!r}"
            elif not any(c.name.lower() == column.lower() for c in model.columns):
                yield path, f"unknown column {column!r} in model {model.name}"
        if len(model_names) > 1:
            yield f"{where}.{side}", "all columns of one side must belong to the same model"
