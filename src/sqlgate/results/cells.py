"""Spreadsheet cells, shared by the csv and excel exports: types and values a spreadsheet can
hold, and formula neutralisation.

String cells *and headers* are neutralised against formula injection (see
:func:`neutralise_formulas`); json, ndjson and parquet are data formats and carry values verbatim.

Text spelling of values Arrow's CSV writer or Excel cannot hold natively (shared by both, and by
parquet for the few types it cannot store): binary → base64, durations/intervals → ISO-8601
durations, UUID → canonical text, lists, structs and maps → JSON text (maps as objects), all via
:mod:`sqlgate.results.jsonable`.
"""

from __future__ import annotations

import re

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from sqlgate.results import jsonable


def _is_string(t: pa.DataType) -> bool:
    return bool(pat.is_string(t) or pat.is_large_string(t))


# --- formula neutralisation --------------------------------------------------------------------

# OWASP "CSV injection": a cell starting with one of these may be run as a formula.
_FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix string cells that a spreadsheet could run as a formula with ``'``.

    Only string columns (and dictionary-encoded strings) are touched; numbers stay numbers, so
    ``-5`` as an integer is untouched while the text ``"-5"`` becomes ``"'-5"``. ``string_view``
    columns come back as ``string`` (Arrow's regex kernels do not take views).
    """
    columns = []
    changed = False
    for column in batch.columns:
        neutralised = _neutralise(column)
        changed = changed or neutralised is not None
        columns.append(column if neutralised is None else neutralised)
    if not changed:
        return batch
    fields = [f.with_type(c.type) for f, c in zip(batch.schema, columns, strict=True)]
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields, batch.schema.metadata))


def _neutralise(array: pa.Array) -> pa.Array | None:
    """``array`` neutralised, or None when it needs no change (the common case: no copy)."""
    t = array.type
    if pat.is_dictionary(t):
        dictionary = _neutralise(array.dictionary)
        if dictionary is None:
            return None
        return pa.DictionaryArray.from_arrays(array.indices, dictionary, ordered=t.ordered)
    if pat.is_string_view(t):
        array = array.cast(pa.string())
        neutralised = _neutralise(array)
        return array if neutralised is None else neutralised
    if not _is_string(t):
        return None
    risky = pc.match_substring_regex(array, _FORMULA_START)
    if not pc.any(risky).as_py():
        return None
    return pc.if_else(risky, pc.utf8_replace_slice(array, start=0, stop=0, replacement="'"), array)


# A string cell of CSV text whose string values are all quoted, and nothing else (an engine's own
# CSV, see sqlgate.engines.csv_stream): its opening quote starts the text or follows a comma or
# a row's newline. A quote inside a value is doubled, so a lone quote after a comma or newline
# is always an opening one, and newlines inside values are followed by text, never by it.
_QUOTED_FORMULA = re.compile(rb'"[=+\-@\t\r]')
_OPENING_FORMULA = re.compile(rb'(?:^|(?<=[,\n]))"(?=[=+\-@\t\r])')


def neutralise_csv(chunk: bytes) -> bytes:
    """``'`` inserted before every string cell of ``chunk`` (whole rows of CSV in which every
    string value, and nothing else, is quoted) that a spreadsheet could run as a formula: the
    cells :func:`neutralise_formulas` changes."""
    if _QUOTED_FORMULA.search(chunk) is None:  # one fast scan: nearly always the answer
        return chunk
    return _OPENING_FORMULA.sub(b"\"'", chunk)


def _neutralise_name(name: str) -> str:
    # Headers are user-chosen aliases, e.g. SELECT 1 AS "=HYPERLINK(...)".
    return "'" + name if name[:1] in ("=", "+", "-", "@", "\t", "\r") else name


# --- cells ---------------------------------------------------------------------------------------


def _sheet_type(t: pa.DataType) -> pa.DataType:
    """The type a column is given in csv/excel: the same if both can write it, else string."""
    if pat.is_dictionary(t) or pat.is_run_end_encoded(t):
        return _sheet_type(t.value_type)
    if pat.is_float16(t):
        return pa.float32()
    if (
        pat.is_null(t)
        or pat.is_boolean(t)
        or pat.is_integer(t)
        or pat.is_float32(t)
        or pat.is_float64(t)
        or pat.is_decimal(t)
        or (pat.is_temporal(t) and not (pat.is_duration(t) or pat.is_interval(t)))
        or _is_string(t)
    ):
        return t
    return pa.string()


def _sheet_array(array: pa.Array, target: pa.DataType) -> pa.Array:
    """``array`` as ``target`` (from :func:`_sheet_type`), spelling other values as text."""
    t = array.type
    if t == target:
        return array
    if pat.is_dictionary(t):
        return _sheet_array(array.dictionary_decode(), target)
    if pat.is_run_end_encoded(t):
        return _sheet_array(pc.run_end_decode(array), target)
    if pat.is_string(target) and not (_is_string(t) or pat.is_string_view(t)):
        return pa.array([cell_text(v) for v in jsonable.python_values(array)], pa.string())
    return array.cast(target)


def cell_text(value: object) -> str | None:
    """A cell value as text: its JSON spelling, unquoted when that is a JSON string.

    So lists, structs and maps become JSON text, bytes base64, durations ISO-8601, UUIDs their
    canonical form: the same spellings as in json exports.
    """
    if value is None or isinstance(value, str):
        return value
    text = jsonable.dumps(value)
    if text.startswith(b'"'):
        decoded: str = orjson.loads(text)
        return decoded
    return text.decode()


def sheet_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(_neutralise_name(f.name), _sheet_type(f.type)) for f in schema],
    )


def sheet_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    columns = [
        _sheet_array(column, f.type) for column, f in zip(batch.columns, target, strict=True)
    ]
    return neutralise_formulas(pa.RecordBatch.from_arrays(columns, schema=target))
