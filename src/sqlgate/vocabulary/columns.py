"""Result columns: what a query's columns are called and typed, for every layer that reports them.

:class:`Column` is one column of a result (engines produce it, formats and the API render it).
Engines that know their own type names (``numeric(12,2)``, ``timestamptz``...) report those;
:func:`sql_type_name` is the fallback when all we have is the Arrow schema of a result, e.g.::

    {"name": "total_revenue", "type": "DECIMAL"}

Names are upper-case and parameter-free (``DECIMAL``, not ``DECIMAL(12,2)``) so clients can
switch on them. Lists are spelled the DuckDB/PostgreSQL way, ``INTEGER[]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.types as pat


@dataclass(frozen=True)
class Column:
    """One column of a result: its name, its type name, and whether it is provably never NULL."""

    name: str
    type: str
    not_null: bool = False


# Types with exactly one name. Parametrised types (decimal, timestamp, list...) are handled by
# the predicates in ``sql_type_name``.
_SIMPLE: dict[pa.DataType, str] = {
    pa.null(): "NULL",
    pa.bool_(): "BOOLEAN",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "TINYINT UNSIGNED",
    pa.uint16(): "SMALLINT UNSIGNED",
    pa.uint32(): "INTEGER UNSIGNED",
    pa.uint64(): "BIGINT UNSIGNED",
    pa.float16(): "FLOAT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.date64(): "DATE",
    pa.month_day_nano_interval(): "INTERVAL",
}


def sql_type_name(t: pa.DataType) -> str:
    """The SQL-ish type name of an Arrow type (``BIGINT``, ``VARCHAR``, ``INTEGER[]``...)."""
    simple = _SIMPLE.get(t)
    if simple is not None:
        return simple
    # Encodings are invisible to SQL: name the logical value type.
    if pat.is_dictionary(t) or pat.is_run_end_encoded(t):
        return sql_type_name(t.value_type)
    if isinstance(t, pa.BaseExtensionType):  # canonical (C++) and Python-defined ones
        return _extension_name(t)
    if pat.is_decimal(t):
        return "DECIMAL"
    if pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t):
        return "VARCHAR"
    if (
        pat.is_binary(t)
        or pat.is_large_binary(t)
        or pat.is_fixed_size_binary(t)
        or pat.is_binary_view(t)
    ):
        return "BLOB"
    if pat.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE" if t.tz is not None else "TIMESTAMP"
    if pat.is_time(t):
        return "TIME"
    if pat.is_duration(t) or pat.is_interval(t):
        return "INTERVAL"
    if (
        pat.is_list(t)
        or pat.is_large_list(t)
        or pat.is_fixed_size_list(t)
        or pat.is_list_view(t)
        or pat.is_large_list_view(t)
    ):
        return f"{sql_type_name(t.value_type)}[]"
    if pat.is_map(t):
        return "MAP"
    if pat.is_struct(t):
        return "STRUCT"
    if pat.is_union(t):
        return "UNION"
    # Anything Arrow grows later: its own name is better than a wrong guess.
    return str(t).upper()


def _extension_name(t: pa.BaseExtensionType) -> str:
    # Canonical extension types carry a meaning their storage type does not.
    if t.extension_name == "arrow.uuid":
        return "UUID"
    if t.extension_name == "arrow.json":
        return "JSON"
    return sql_type_name(t.storage_type)
