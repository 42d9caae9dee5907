"""Result exports: Arrow record batches → csv, json, ndjson, excel or parquet bytes, streamed.

Every ``OutputFormat.write`` is a generator that pulls batches lazily and yields a chunk of
output per batch (per row group for parquet), so memory stays bounded by about one batch however
many rows the cursor produces. Oversized batches are sliced (zero-copy) first, because turning
Arrow data into Python objects multiplies its size.

Excel is the exception: a zip file cannot be produced front to back, so the workbook is spooled
to a temporary directory by xlsxwriter in ``constant_memory`` mode, then streamed in 64 KiB
chunks and deleted, also when the consumer stops early.

Given the stream as ``ending``, json, ndjson and parquet say how the result ended after its last
row (cut at the row limit, or stopped by an error): see :mod:`sqlgate.results.endings`.

Spreadsheet formats (csv, excel) get their string cells *and headers* neutralised against
formula injection, and values they cannot hold spelled as text: see :mod:`sqlgate.results.cells`.
json, ndjson and parquet are data formats and carry values verbatim.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.types as pat

from sqlgate.errors import SqlgateError
from sqlgate.results import endings, jsonable, read_ahead
from sqlgate.results.cells import sheet_batch, sheet_schema
from sqlgate.results.read_ahead import map_ahead

# Excel sheets hold 1,048,576 rows; one is the header. Exports in Excel are cut there (its
# ``max_rows``); the writer also stops pulling batches once this many data rows are written.
EXCEL_MAX_ROWS = 1_048_575

# Rows turned into Python objects at once (json, ndjson, excel): ~a few MB of objects.
PYTHON_SLICE_ROWS = 16_384
# Rows per CSV chunk: Arrow formats them in C++, a chunk is a few MB of text.
CSV_SLICE_ROWS = 65_536

_FILE_CHUNK = 64 * 1024

#: What a writer yields: bytes, or a view of a buffer Arrow wrote (handed on without a copy).
Chunk = bytes | memoryview
Writer = Callable[[pa.Schema, Iterable[pa.RecordBatch], endings.Limited | None], Iterator[Chunk]]


@dataclass(frozen=True)
class OutputFormat:
    """One export format, declared once in :data:`FORMATS`: the API's ``?format=`` choices and
    response content types, and the formats async jobs accept, all follow from these."""

    name: str
    media_type: str
    extension: str
    writer: Writer = field(repr=False)
    #: Whether async jobs may write it. Their results are cut into chunks, each a whole file;
    #: a format written front to back allows that (Excel, one zip spooled whole, does not).
    async_jobs: bool = True
    #: Rows the format can hold, if it has a limit: an export in it is cut there (and says so).
    max_rows: int | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters (``text/csv``), as the OpenAPI document lists it."""
        return self.media_type.split(";", 1)[0].strip()

    def write(
        self,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        ending: endings.Limited | None = None,
    ) -> Iterator[Chunk]:
        """Stream ``batches`` (all of type ``schema``) as this format, chunk by chunk. With
        ``ending`` (the stream the batches come from), formats that can mark how the result
        ended do: a cut at the row limit, or an error part-way (which is raised after)."""
        return self.writer(schema, batches, ending)


def get_format(name: str) -> OutputFormat:
    """The format called ``name``; ``KeyError`` if there is none."""
    return FORMATS[name]


# --- shared plumbing ---------------------------------------------------------------------------


def _sliced(batches: Iterable[pa.RecordBatch], max_rows: int) -> Iterator[pa.RecordBatch]:
    """Non-empty batches of at most ``max_rows`` rows, pulled lazily (slices are zero-copy)."""
    for batch in batches:
        for offset in range(0, batch.num_rows, max_rows):
            yield batch.slice(offset, max_rows)


# --- csv ---------------------------------------------------------------------------------------

# Arrow spells values the way most tools read them back: nulls as empty fields, booleans as
# true/false, timestamps as "2024-01-01 12:00:00.000000" (aware ones in their zone with an offset,
# "-0500"), decimals exactly. All strings are quoted.
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=True, null_string="")
# The rows of a slice, formatted in one go (Arrow's default, 1,024 rows at a time, made 64
# writes of a few kilobytes per slice).
_CSV_ROWS = pa_csv.WriteOptions(include_header=False, null_string="", batch_size=CSV_SLICE_ROWS)


_UTC_ZONES = frozenset({"UTC", "utc", "Etc/UTC", "+00:00", "Z"})


def _is_utc_timestamp(t: pa.DataType) -> bool:
    return pat.is_timestamp(t) and t.tz in _UTC_ZONES


def _utc_text(array: pa.Array) -> pa.Array:
    """UTC timestamps spelled as Arrow's CSV writer spells them ("2024-01-01 12:00:00.000000Z"),
    ten times faster: the writer looks each value up in the time-zone database."""
    naive = array.cast(pa.timestamp(array.type.unit)).cast(pa.string())
    return pc.binary_join_element_wise(naive, pa.scalar("Z"), "")


def csv_header(schema: pa.Schema) -> bytes:
    """The header line of a CSV export of ``schema``: the names quoted and neutralised, as
    the CSV writer writes them."""
    sink = io.BytesIO()
    pa_csv.write_csv(sheet_schema(schema).empty_table(), sink, write_options=_CSV_OPTIONS)
    return sink.getvalue()


def _write_csv(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], _ending: endings.Limited | None
) -> Iterator[Chunk]:
    """CSV has no room for a marker: a cut or failed export is told by the response (headers,
    an aborted transfer), not the file. Each slice of rows is written by Arrow in one piece and
    handed on as a view of Arrow's buffer, not copied; the next slices are written on other
    cores meanwhile (see :func:`map_ahead`)."""
    target = sheet_schema(schema)
    utc = [i for i, f in enumerate(target) if _is_utc_timestamp(f.type)]
    written = target
    for i in utc:
        written = written.set(i, pa.field(target[i].name, pa.string()))

    def encode(batch: pa.RecordBatch) -> memoryview:
        out = sheet_batch(batch, target)
        if utc:
            columns = list(out.columns)
            for i in utc:
                columns[i] = _utc_text(columns[i])
            out = pa.RecordBatch.from_arrays(columns, schema=written)
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(out, sink, write_options=_CSV_ROWS)
        return memoryview(sink.getvalue())

    yield csv_header(schema)  # before the first (maybe slow) batch arrives
    try:
        yield from map_ahead(encode, _sliced(batches, CSV_SLICE_ROWS))
    finally:
        read_ahead.give_back_freed()


def _write_parquet(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], ending: endings.Limited | None
) -> Iterator[Chunk]:
    """See :mod:`sqlgate.results.parquet_export`, imported (with pyarrow's Parquet writer, a
    few MB resident) by the first Parquet export, not when the server starts."""
    from sqlgate.results.parquet_export import write_parquet

    return write_parquet(schema, batches, ending)


# --- json and ndjson ---------------------------------------------------------------------------


def _json_rows(names: list[str], batch: pa.RecordBatch) -> list[dict[str, object]]:
    columns = [jsonable.json_values(column) for column in batch.columns]
    return jsonable.objects(names, columns, batch.num_rows)


def _write_json(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], ending: endings.Limited | None
) -> Iterator[bytes]:
    """A JSON array of row objects: ``[`` + rows joined by ``,`` + ``]``; ``[]`` when empty.
    With ``ending``, a cut result's last element is the marker; after an error the marker is
    written and the array left open (not valid JSON), then the error raised."""
    names = jsonable.unique_names(schema.names)
    separator = b"["
    rows = 0
    try:
        for batch in _sliced(batches, PYTHON_SLICE_ROWS):
            # One orjson call per slice, then drop its brackets: much faster than a call per row.
            body = jsonable.dumps(_json_rows(names, batch))
            yield separator + body[1:-1]
            separator = b","
            rows += batch.num_rows
    except SqlgateError as exc:
        if ending is not None:
            yield separator + jsonable.dumps(endings.failed(exc, rows))
        raise
    marker = endings.cut(ending, rows)
    if marker is not None:
        yield separator + jsonable.dumps(marker) + b"]"
    else:
        yield b"[]" if separator == b"[" else b"]"


def _write_ndjson(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], ending: endings.Limited | None
) -> Iterator[bytes]:
    """One JSON object per line, each line ``\\n``-terminated; nothing at all when empty.
    With ``ending``, a cut or failed result ends with a marker line (then the error raises)."""
    names = jsonable.unique_names(schema.names)
    written = 0
    try:
        for batch in _sliced(batches, PYTHON_SLICE_ROWS):
            rows = _json_rows(names, batch)
            # One orjson call per slice (a call per row costs 3x more): serialize
            # [row, NEWLINE, row, NEWLINE...] where NEWLINE is a verbatim fragment, giving
            # b'[{..},\n,{..},\n]'. orjson escapes newlines inside strings and we never indent,
            # so every raw newline in the output is ours and ",\n," only occurs between rows.
            items: list[object] = [_NEWLINE] * (2 * len(rows))
            items[::2] = rows
            body = jsonable.dumps(items)
            yield body[1:-3].replace(b",\n,", b"\n") + b"\n"
            written += len(rows)
    except SqlgateError as exc:
        if ending is not None:
            yield jsonable.dumps(endings.failed(exc, written)) + b"\n"
        raise
    marker = endings.cut(ending, written)
    if marker is not None:
        yield jsonable.dumps(marker) + b"\n"


_NEWLINE = orjson.Fragment(b"\n")


# --- excel -------------------------------------------------------------------------------------

# Excel stores dates as days since 1899-12-30 ("serial numbers"). Serials below 61 fall before
# 1900-03-01, where Excel's fictitious 1900-02-29 makes them ambiguous; 2958466 is year 10000.
_EXCEL_EPOCH_OFFSET = 25_569  # 1970-01-01
_EXCEL_MIN_SERIAL = 61
_EXCEL_MAX_SERIAL = 2_958_466
_MICROS_PER_DAY = 86_400_000_000
# Excel numbers are doubles: integers beyond 2**53 would silently change, so they become text.
_EXACT_INT = 2**53

_DATE_FORMAT = "yyyy-mm-dd"
_TIMESTAMP_FORMAT = "yyyy-mm-dd hh:mm:ss"
_TIME_FORMAT = "hh:mm:ss"

CellWriter = Callable[[int, int, Any], object]


class _Sheet:
    """Writes typed columns of batches into one constant-memory xlsxwriter worksheet."""

    def __init__(self, workbook: Any, schema: pa.Schema) -> None:
        self._workbook = workbook
        self._ws = workbook.add_worksheet("Result")
        self._formats: dict[str, Any] = {}
        self.rows = 0
        bold = workbook.add_format({"bold": True})
        self._ws.freeze_panes(1, 0)
        for col, f in enumerate(schema):
            self._ws.set_column(col, col, _column_width(f.name, f.type))
            self._ws.write_string(0, col, f.name, bold)

    def write(self, batch: pa.RecordBatch) -> None:
        columns = [self._cells(column) for column in batch.columns]
        writers = [write for _, write in columns]
        first = self.rows + 1
        for row, values in enumerate(zip(*[v for v, _ in columns], strict=True), start=first):
            for col, (write, value) in enumerate(zip(writers, values, strict=True)):
                if value is not None:  # constant_memory: skipped cells are simply blank
                    write(row, col, value)
        self.rows += batch.num_rows

    def _format(self, num_format: str) -> Any:
        if num_format not in self._formats:
            self._formats[num_format] = self._workbook.add_format({"num_format": num_format})
        return self._formats[num_format]

    def _cells(self, array: pa.Array) -> tuple[list[Any], CellWriter]:
        """The column's cell values and the function writing one of them."""
        ws = self._ws
        t = array.type
        if pat.is_boolean(t):
            return array.to_pylist(), ws.write_boolean
        if pat.is_integer(t):
            values = array.to_pylist()
            bounds = pc.min_max(array).as_py()
            if bounds["min"] is not None and max(-bounds["min"], bounds["max"]) > _EXACT_INT:
                values = [str(v) if v is not None and abs(v) > _EXACT_INT else v for v in values]
                return values, self._number_or_text(None)
            return values, ws.write_number
        if pat.is_floating(t):
            return array.to_pylist(), ws.write_number  # NaN/inf: nan_inf_to_errors
        if pat.is_decimal(t):
            scale = min(max(t.scale, 0), 15)
            fmt = self._format("0." + "0" * scale) if scale else None
            floats = array.cast(pa.float64(), safe=False).to_pylist()
            return floats, functools.partial(ws.write_number, cell_format=fmt)
        if pat.is_date(t):
            days = array.cast(pa.date32()).cast(pa.int32()).cast(pa.float64())
            return self._serials(array, pc.add(days, _EXCEL_EPOCH_OFFSET), _DATE_FORMAT)
        if pat.is_timestamp(t):
            # Aware timestamps are instants: Excel has no zones, so they are written in UTC.
            naive = array.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.timestamp("us"))
            # Past ±2**53 µs (years 1685..2255) a double rounds below Excel's millisecond.
            micros = naive.cast(pa.int64()).cast(pa.float64(), safe=False)
            serial = pc.add(pc.divide(micros, _MICROS_PER_DAY), _EXCEL_EPOCH_OFFSET)
            return self._serials(naive, serial, _TIMESTAMP_FORMAT)
        if pat.is_time(t):
            micros = array.cast(pa.time64("us"), safe=False).cast(pa.int64()).cast(pa.float64())
            fmt = self._format(_TIME_FORMAT)
            fraction = pc.divide(micros, _MICROS_PER_DAY).to_pylist()
            return fraction, functools.partial(ws.write_number, cell_format=fmt)
        # Strings (already neutralised); other types were spelled as text by sheet_batch.
        return array.to_pylist(), ws.write_string

    def _serials(
        self, source: pa.Array, serial: pa.Array, num_format: str
    ) -> tuple[list[Any], CellWriter]:
        """Date serial numbers; dates Excel cannot show (before 1900-03-01...) as ISO text."""
        fmt = self._format(num_format)
        outside = pc.or_(
            pc.less(serial, _EXCEL_MIN_SERIAL), pc.greater_equal(serial, _EXCEL_MAX_SERIAL)
        )
        values = serial.to_pylist()
        if not pc.any(outside).as_py():
            return values, functools.partial(self._ws.write_number, cell_format=fmt)
        texts = pc.cast(source, pa.string()).to_pylist()
        flags = outside.to_pylist()
        values = [text if flag else v for v, text, flag in zip(values, texts, flags, strict=True)]
        return values, self._number_or_text(fmt)

    def _number_or_text(self, fmt: Any) -> CellWriter:
        ws = self._ws

        def write(row: int, col: int, value: Any) -> object:
            if isinstance(value, str):
                return ws.write_string(row, col, value)
            return ws.write_number(row, col, value, fmt)

        return write


def _column_width(name: str, t: pa.DataType) -> float:
    # Excel shows "#####" for dates wider than their column, so make room for them.
    if pat.is_timestamp(t):
        width = 20
    elif pat.is_date(t):
        width = 11
    else:
        width = 9
    return float(min(max(width, len(name) + 2), 60))


def _write_excel(
    schema: pa.Schema, batches: Iterable[pa.RecordBatch], _ending: endings.Limited | None
) -> Iterator[bytes]:
    """The workbook is spooled whole before its first byte, so the caller knows how it ended
    before answering (and says so in headers); the file itself has no marker."""
    # The directory holds xlsxwriter's own row spool as well as the workbook, so removing it
    # cleans up everything, whether we finish, fail, or the consumer stops reading.
    with tempfile.TemporaryDirectory(prefix="sqlgate-xlsx-") as tmp:
        path = os.path.join(tmp, "result.xlsx")
        _spool_excel(path, tmp, schema, batches)
        with open(path, "rb") as spooled:
            while chunk := spooled.read(_FILE_CHUNK):
                yield chunk


def _spool_excel(path: str, tmp: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> None:
    import xlsxwriter  # by the first Excel export, not when the server starts

    workbook = xlsxwriter.Workbook(
        path,
        {
            "constant_memory": True,
            "tmpdir": tmp,
            "nan_inf_to_errors": True,  # NaN → #NUM!, ±inf → #DIV/0! rather than an exception
            # Belt and braces: we only use typed writes, which never interpret strings.
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    try:
        target = sheet_schema(schema)
        sheet = _Sheet(workbook, target)
        for batch in _sliced(batches, PYTHON_SLICE_ROWS):
            room = EXCEL_MAX_ROWS - sheet.rows
            sheet.write(sheet_batch(batch.slice(0, room), target))
            if sheet.rows >= EXCEL_MAX_ROWS:
                break  # stop pulling: callers cap the rows at max_rows, and report the cut
    except BaseException:
        # Release the row spool's file handle; the temporary directory goes away with it.
        for worksheet in workbook.worksheets():
            handle = getattr(worksheet, "row_data_fh", None)
            if handle is not None:
                handle.close()
        raise
    workbook.close()


# --- registry ----------------------------------------------------------------------------------

#: Every format, in the order the API lists them. Adding one here (and its writer) adds it to the
#: export's ``?format=``, its response content types and, unless ``async_jobs=False``, to what
#: async jobs accept.
FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("csv", "text/csv; charset=utf-8", "csv", _write_csv),
        OutputFormat("json", "application/json", "json", _write_json),
        OutputFormat(
            "excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            _write_excel,
            async_jobs=False,
            max_rows=EXCEL_MAX_ROWS,
        ),
        OutputFormat("parquet", "application/vnd.apache.parquet", "parquet", _write_parquet),
        OutputFormat("ndjson", "application/x-ndjson", "ndjson", _write_ndjson),
    )
}

#: What an export is written in unless the client asks for another format.
EXPORT_DEFAULT = "csv"
#: What an async result is written in unless asked otherwise: columnar, typed and compressed.
ASYNC_DEFAULT = "parquet"
#: The formats async jobs may write: the default first, then in declaration order.
ASYNC_FORMATS: tuple[str, ...] = (
    ASYNC_DEFAULT,
    *(name for name, f in FORMATS.items() if f.async_jobs and name != ASYNC_DEFAULT),
)
