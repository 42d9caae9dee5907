"""Arrow results as JSON-ready Python values, and the one JSON encoder.

Encoding rules (the same for API responses and json/ndjson exports):

* ``Decimal`` is written as an exact JSON number (``123456789012345678.12`` stays exact, no
  float round-trip); NaN/Infinity decimals become ``null``, like float NaN/Infinity do.
* ``bytes`` become base64 strings.
* Durations (``timedelta``) and intervals (Arrow ``MonthDayNano``) become ISO-8601 duration
  strings, see :func:`iso_duration`. A timedelta is an exact elapsed time, so it is written with
  hours only (``PT36H``); an interval keeps its calendar parts (``P1Y2M3DT4H``).
* Datetimes, dates, times and UUIDs are native to orjson: ISO-8601, naive datetimes without an
  offset, aware ones with their offset.
* Map keys that are not strings (``MAP(INTEGER, ...)``) are stringified.
* Anything else falls back to ``str(x)``.

Arrow's nanosecond temporal types have no Python equivalent without pandas, so values are
truncated to microseconds on the way to Python (JSON consumers rarely keep more than
milliseconds anyway; parquet exports keep nanoseconds).

Duplicate column names (``SELECT 1 AS a, 2 AS a``) would silently lose values in row objects,
so :func:`unique_names` suffixes repeats: ``a``, ``a_1``, ``a_2``...
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

# OPT_NON_STR_KEYS: map columns may have integer/date keys. Naive datetimes are written without
# an offset by default (OPT_NAIVE_UTC is deliberately not set: we do not know they are UTC).
_OPTIONS = orjson.OPT_NON_STR_KEYS

_NANOS_PER_SECOND = 1_000_000_000


def dumps(obj: object) -> bytes:
    """Serialize ``obj`` to JSON bytes with sqlgate's encoding rules (see module docstring)."""
    return orjson.dumps(obj, default=_default, option=_OPTIONS)


def _default(obj: object) -> object:
    # Called by orjson only for types it does not handle natively.
    if isinstance(obj, Decimal):
        # A Fragment is inserted verbatim: str(Decimal) is always a valid JSON number when finite.
        return orjson.Fragment(str(obj)) if obj.is_finite() else None
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, dt.timedelta):
        return timedelta_iso(obj)
    if isinstance(obj, pa.MonthDayNano):
        return iso_duration(obj.months, obj.days, obj.nanoseconds)
    return str(obj)


# --- durations ---------------------------------------------------------------------------------


def iso_duration(months: int, days: int, nanoseconds: int) -> str:
    """An ISO-8601 duration, e.g. ``P1Y2M3DT4H5M6.5S``; ``PT0S`` when zero.

    Each part carries its own sign (``P-1M3D``), as PostgreSQL's ``iso_8601`` interval style
    does, because an interval's months, days and time may have different signs.
    """
    out = ["P"]
    years, rest_months = divmod(abs(months), 12)
    sign = "-" if months < 0 else ""
    if years:
        out.append(f"{sign}{years}Y")
    if rest_months:
        out.append(f"{sign}{rest_months}M")
    if days:
        out.append(f"{days}D")
    if nanoseconds:
        sign = "-" if nanoseconds < 0 else ""
        seconds, fraction = divmod(abs(nanoseconds), _NANOS_PER_SECOND)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        out.append("T")
        if hours:
            out.append(f"{sign}{hours}H")
        if minutes:
            out.append(f"{sign}{minutes}M")
        if seconds or fraction:
            digits = f".{fraction:09d}".rstrip("0") if fraction else ""
            out.append(f"{sign}{seconds}{digits}S")
    return "".join(out) if len(out) > 1 else "PT0S"


def timedelta_iso(value: dt.timedelta) -> str:
    """An exact elapsed time as an ISO-8601 duration in hours/minutes/seconds (``PT36H``)."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return iso_duration(0, 0, micros * 1_000)


# --- column names ------------------------------------------------------------------------------


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique by suffixing repeats: ``[a, a, b, a]`` → ``[a, a_1, b, a_2]``.

    A first occurrence keeps its name, and a suffix never collides with another column's real
    name (``[a, a, a_1]`` → ``[a, a_2, a_1]``), so the mapping is stable and loses nothing.
    """
    originals = set(names)
    taken: set[str] = set()
    last_suffix: dict[str, int] = {}
    result: list[str] = []
    for name in names:
        unique = name
        if name in taken:
            n = last_suffix.get(name, 0)
            while True:
                n += 1
                unique = f"{name}_{n}"
                if unique not in taken and unique not in originals:
                    break
            last_suffix[name] = n
        taken.add(unique)
        result.append(unique)
    return result


# --- Arrow → Python ----------------------------------------------------------------------------

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray


#: Types whose values ``to_pylist`` gives as they are: no nanoseconds, no maps, no range errors.
_PLAIN_TYPE_IDS = frozenset(
    t.id
    for t in (
        pa.null(), pa.bool_(), pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(),
        pa.uint16(), pa.uint32(), pa.uint64(), pa.float16(), pa.float32(), pa.float64(),
        pa.string(), pa.large_string(), pa.binary(), pa.large_binary(),
    )
)  # fmt: skip


def python_values(array: ArrayLike) -> list[object]:
    """The values of an Arrow array as natural Python objects (``Decimal``, ``datetime``...).

    Temporal values Python cannot hold (DuckDB's ``'infinity'``, years after 9999) make the
    column come back as Arrow's text for this array rather than failing the whole result.
    """
    if array.type.id in _PLAIN_TYPE_IDS:  # nothing to adjust, nothing that can fail
        plain: list[object] = array.to_pylist()
        return plain
    micro_type = _without_nanoseconds(array.type)
    if micro_type is not None:
        array = array.cast(micro_type, safe=False)  # truncate to µs, see module docstring
    try:
        if type_contains(array.type, pat.is_map):
            try:
                values: list[object] = array.to_pylist(maps_as_pydicts="strict")
                return values
            except (KeyError, TypeError):
                pass  # duplicate or unhashable keys: keep Arrow's [(key, value), ...] lists
        values = array.to_pylist()
        return values
    except (ValueError, OverflowError):
        if not pat.is_temporal(array.type):
            raise
        values = pc.cast(array, pa.string()).to_pylist()
        return values


# The datetime range as microseconds since the epoch: 0001-01-01 to 9999-12-31 23:59:59.999999.
_PY_MIN_MICROS = -62_135_596_800_000_000
_PY_MAX_MICROS = 253_402_300_799_999_999


def json_values(array: ArrayLike) -> list[object]:
    """Values that :func:`dumps` writes exactly as it writes :func:`python_values`, but faster.

    Building a ``datetime`` per cell costs ~1 µs (3 µs with a time zone), more than all of the
    JSON encoding, so temporal columns are formatted by Arrow in bulk into the very strings orjson
    would produce, and decimals become verbatim JSON number fragments.
    """
    t = array.type
    if pat.is_timestamp(t) and (t.tz is None or _is_utc(t.tz)):
        # Aware → naive keeps the UTC wall-clock time.
        naive = array.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.timestamp("us"))
        bounds = pc.min_max(naive.cast(pa.int64())).as_py()
        if bounds["min"] is None or (
            bounds["min"] >= _PY_MIN_MICROS and bounds["max"] <= _PY_MAX_MICROS
        ):
            # Arrow: "2024-01-01 00:00:00.000000"; orjson: "2024-01-01T00:00:00", with the
            # fraction only when non-zero, and "+00:00" when aware.
            text = pc.utf8_replace_slice(_iso_text(naive), start=10, stop=11, replacement="T")
            if t.tz is not None:
                text = pc.binary_join_element_wise(text, "+00:00", "")
            return text.to_pylist()  # type: ignore[no-any-return]
    elif pat.is_time(t):
        text = _iso_text(array.cast(pa.time64("us"), safe=False))
        return text.to_pylist()  # type: ignore[no-any-return]
    elif pat.is_date(t):
        return pc.cast(array, pa.string()).to_pylist()  # type: ignore[no-any-return]
    elif pat.is_decimal(t):
        # Arrow's decimal text matches str(Decimal), exponent notation included.
        return [
            None if text is None else orjson.Fragment(text)
            for text in pc.cast(array, pa.string()).to_pylist()
        ]
    return python_values(array)


def _iso_text(array: ArrayLike) -> ArrayLike:
    # Microsecond timestamps and times always end in ".ffffff", the only "." in the text, so a
    # literal replace drops zero fractions (5x faster than a regex).
    return pc.replace_substring(pc.cast(array, pa.string()), pattern=".000000", replacement="")


_UTC_NAMES = frozenset(
    {"utc", "etc/utc", "z", "zulu", "+00:00", "-00:00", "gmt", "etc/gmt", "universal"}
)


def _is_utc(tz: str) -> bool:
    return tz.lower() in _UTC_NAMES


def _without_nanoseconds(t: pa.DataType) -> pa.DataType | None:
    """``t`` with every nanosecond temporal replaced by microseconds; None if nothing to do."""
    if pat.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", tz=t.tz)
    if pat.is_time64(t) and t.unit == "ns":
        return pa.time64("us")
    if pat.is_duration(t) and t.unit == "ns":
        return pa.duration("us")
    if pat.is_list(t) or pat.is_large_list(t):
        item = _without_nanoseconds(t.value_type)
        if item is None:
            return None
        field = t.value_field.with_type(item)
        return pa.list_(field) if pat.is_list(t) else pa.large_list(field)
    if pat.is_struct(t):
        fields = [t.field(i) for i in range(t.num_fields)]
        new = [_without_nanoseconds(f.type) for f in fields]
        if all(n is None for n in new):
            return None
        return pa.struct(
            [f if n is None else f.with_type(n) for f, n in zip(fields, new, strict=True)]
        )
    return None


def type_contains(t: pa.DataType, predicate: Callable[[pa.DataType], bool]) -> bool:
    """Whether ``t`` or any type nested in it (list items, struct fields...) is a ``predicate``."""
    if predicate(t):
        return True
    if pat.is_dictionary(t) or pat.is_run_end_encoded(t):
        return type_contains(t.value_type, predicate)
    return any(type_contains(t.field(i).type, predicate) for i in range(t.num_fields))


# --- rows --------------------------------------------------------------------------------------

Tabular: TypeAlias = pa.Table | pa.RecordBatch


def rows_as_arrays(table: Tabular) -> list[list[object]]:
    """Rows as lists of Python values, in column order."""
    columns = [python_values(column) for column in table.columns]
    if not columns:
        return [[] for _ in range(table.num_rows)]
    return [list(row) for row in zip(*columns, strict=True)]


#: From this many rows on, :func:`json_rows` converts temporal and decimal columns in bulk in
#: Arrow (a fixed cost of a few compute calls per column, won back over a few hundred rows).
BULK_ROWS = 256


def json_rows(table: Tabular) -> list[tuple[object, ...]]:
    """Rows for :func:`dumps` to write as JSON arrays (the ``rows`` of an API answer): the
    same JSON as :func:`rows_as_arrays`, built with less work. Rows are tuples (orjson writes
    them as arrays, and no list is copied per row); large results take :func:`json_values`."""
    convert = json_values if table.num_rows >= BULK_ROWS else python_values
    columns = [convert(column) for column in table.columns]
    if not columns:
        return [() for _ in range(table.num_rows)]
    return list(zip(*columns, strict=True))


def rows_as_objects(table: Tabular) -> list[dict[str, object]]:
    """Rows as ``{column: value}`` dicts; repeated names are suffixed, see :func:`unique_names`."""
    columns = [python_values(column) for column in table.columns]
    return objects(unique_names(table.column_names), columns, table.num_rows)


def objects(
    names: Sequence[str], columns: Sequence[Iterable[object]], num_rows: int
) -> list[dict[str, object]]:
    """Zip per-column value lists into row dicts (``names`` must be unique)."""
    if not columns:
        return [{} for _ in range(num_rows)]
    return list(map(_row_maker(tuple(names)), *columns))


@functools.lru_cache(maxsize=128)
def _row_maker(names: tuple[str, ...]) -> Callable[..., dict[str, object]]:
    """A function taking one value per column and returning the row dict.

    Generated the way the stdlib generates dataclass and namedtuple methods: a dict display
    ``{k0: v0, k1: v1}`` is CPython's fastest way to build a dict, twice as fast as
    ``dict(zip(names, row))``. Only generated identifiers appear in the source; the column names
    are passed in as closure values, never as code.
    """
    keys = ", ".join(f"k{i}" for i in range(len(names)))
    params = ", ".join(f"v{i}" for i in range(len(names)))
    items = ", ".join(f"k{i}: v{i}" for i in range(len(names)))
    namespace: dict[str, Any] = {}
    exec(f"def make({keys}):\n    return lambda {params}: {{{items}}}\n", namespace)  # noqa: S102
    maker: Callable[..., dict[str, object]] = namespace["make"](*names)
    return maker
