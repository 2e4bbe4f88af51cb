"""Reading a user's CSV file into a table data set, with a plain-words message for every
way a file can be unusable.

``read_table`` turns bytes into a typed frame (encoding and delimiter detected);
``describe_columns`` infers each column's role and task kind; ``prepare`` checks the
chosen roles and returns what the store keeps (``StoredTable``). Nothing here touches the
store: ``store.tables.add_table`` does, after every check has passed, so a bad file stores nothing.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import cut
from .tabular import ColumnKind, infer_kind

MAX_BYTES = 100 * 1024 * 1024  # the upload cap the Data page states (50k × 100 fits)
MAX_COLUMNS = 1000
MIN_ROWS = 5  # enough for a training, a validation and a test row or two
MAX_TEXT_VALUES = 50  # a text input column is one-hot encoded: at most this many values
NA_VALUES = ["", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "?", "-"]
# tried in order; latin-1 decodes any bytes, so it is the last resort
ENCODINGS = (("utf-8-sig", "UTF-8"), ("cp1252", "Windows-1252"), ("latin-1", "Latin-1"))
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$")

Role = Literal["input", "task", "ignore"]
MissingPolicy = Literal["drop", "impute"]


class CsvError(ValueError):
    """A file or a choice that cannot be used; the message is for the user as it is."""


@dataclass
class ParsedTable:
    frame: pd.DataFrame
    encoding: str  # the name shown to the user ("UTF-8", "Windows-1252"…)
    delimiter: str
    sha256: str
    notes: list[str] = field(default_factory=list)  # what was detected, in plain words


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    dtype: Literal["numeric", "text"]
    role: Role
    kind: ColumnKind  # the kind it has as a task
    missing: int  # missing values
    distinct: int  # distinct values (missing excluded)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "role": self.role, "kind": self.kind,
                "missing": self.missing, "distinct": self.distinct}


# ---- bytes → frame ------------------------------------------------------------------------


def _q(value: object) -> str:
    """A name or value from the file, quoted in a message: cut, control characters escaped."""
    return f"'{cut(str(value))}'"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


CHUNK = 1 << 20  # bytes checked at a time: no copy of the whole file is made to check it
SAMPLE_LINES, SAMPLE_CHARS = 50, 1 << 20  # what the delimiter is guessed from


def check_size(n_bytes: int) -> None:
    """Refuse a file by its size alone, before any of it is read."""
    if n_bytes > MAX_BYTES:
        raise CsvError(f"The file is {_size(n_bytes)}; the limit is {_size(MAX_BYTES)}.")


def read_file(path: str | Path) -> bytes:
    """The bytes of the file at ``path``: its size is checked before it is read, and no
    more than the limit is ever read (a pipe has no size to check). ``OSError`` when it
    cannot be read; ``CsvError`` when it is too large."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        check_size(size)
        data = f.read(min(size, MAX_BYTES) + 1)
        if len(data) > size:  # a pipe, or a file that grew since: read on, to the limit
            data += f.read(MAX_BYTES + 1 - len(data))
    check_size(len(data))
    return data


def _not_text() -> CsvError:
    return CsvError("This file is not text (it holds binary data), so it cannot be a CSV "
                    "file. Save the table as CSV and upload that.")


def _decodes(data: bytes, codec: str) -> bool:
    """True when the whole of ``data`` is text in ``codec``, checked a chunk at a time
    (nothing the size of the file is made); ``CsvError`` when the text holds a NUL."""
    decoder = codecs.getincrementaldecoder(codec)()
    view = memoryview(data)
    try:
        for i in range(0, max(len(data), 1), CHUNK):
            last = i + CHUNK >= len(data)
            if "\x00" in decoder.decode(view[i:i + CHUNK], final=last):
                raise _not_text()
    except UnicodeDecodeError:
        return False
    return True


def _encoding(data: bytes) -> tuple[str, str]:
    """(codec, encoding name shown to the user) of the whole file; UTF-16 only with its
    byte-order mark. ``CsvError`` for an Office file or binary data anywhere in it."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and _decodes(data, "utf-16"):
        return "utf-16", "UTF-16"
    if data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise CsvError("This is an Excel workbook (or another zipped or Office file), not a CSV "
                       "file. In Excel, use File › Save As › CSV, then upload that file.")
    if b"\x00" in data:  # anywhere: a NUL after the first pages is binary too
        raise _not_text()
    for codec, label in ENCODINGS:
        if codec == "latin-1" or _decodes(data, codec):  # (latin-1 decodes any bytes)
            return codec, label
    raise CsvError("The file's text encoding could not be read.")  # pragma: no cover - latin-1


def _text(data: bytes, codec: str) -> io.TextIOWrapper:
    """The file's text as a stream, decoded as it is read (``io.BytesIO`` shares the
    bytes: no copy); lines end at \\n, \\r\\n or \\r, as the csv module needs."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=codec, newline="")


def _delimiter(data: bytes, codec: str) -> str:
    stream = _text(data, codec)
    lines: list[str] = []
    left = SAMPLE_CHARS
    while len(lines) < SAMPLE_LINES and left > 0 and (line := stream.readline(left)):
        lines.append(line.rstrip("\r\n"))
        left -= len(line)
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _rows(reader: Any) -> Iterator[list[str]]:
    """The rows of a ``csv.reader``, its errors in plain words naming the line."""
    try:
        yield from reader
    except csv.Error as e:
        if "field larger than field limit" in str(e):
            raise CsvError(f"Line {reader.line_num:,} holds a value longer than "
                           f"{csv.field_size_limit():,} characters: a table's values are "
                           "numbers or short labels. Check the file's quotes: a quote that "
                           "is never closed makes the rest of the file one value.") from None
        raise CsvError(f"Line {reader.line_num:,} cannot be read as a row of a CSV table "
                       "(check its quotes and delimiters).") from None


def _check_shape(stream: io.TextIOWrapper, delim: str) -> list[str]:
    """The header, after checking every row has as many values as it (plain-words
    message naming the line otherwise). Reads the file as a stream, one row at a time."""
    reader = csv.reader(stream, delimiter=delim)
    header: list[str] | None = None
    rows = 0
    for row in _rows(reader):
        if not row or all(not v.strip() for v in row):
            continue  # blank lines are skipped, as pandas does
        if header is None:
            header = row
            if len(header) > MAX_COLUMNS:
                raise CsvError(f"The file has {len(header):,} columns; at most {MAX_COLUMNS:,} "
                               "are supported. Keep the columns you need and upload again.")
            continue
        rows += 1
        if len(row) != len(header):
            raise CsvError(f"Line {reader.line_num} has {len(row)} values but the header has "
                           f"{len(header)} columns. Every row needs one value per column "
                           "(leave a value empty between two delimiters when it is missing).")
    if header is None:
        raise CsvError("The file is empty.")
    if rows == 0:
        raise CsvError("The file has a header but no rows of data.")
    if rows < MIN_ROWS:
        raise CsvError(f"The file has {rows} row{'s' if rows > 1 else ''} of data; at least "
                       f"{MIN_ROWS} are needed to train, validate and test.")
    names = [h.strip() for h in header]
    first: dict[str, int] = {}
    for i, n in enumerate(names):
        if not n:
            raise CsvError(f"Column {i + 1} has no name in the header row: name every column.")
        if n in first:
            raise CsvError(f"The column name {_q(n)} appears twice (columns {first[n] + 1} "
                           f"and {i + 1}): give each column its own name.")
        first[n] = i
    return names


def read_table(data: bytes, checked: bool = False) -> ParsedTable:
    """Bytes of a CSV file → a typed frame, or ``CsvError`` saying what is wrong.
    ``checked``: the file passed these checks before (it is in the store), so the row by
    row pass over it is skipped. The text is read as a stream: beside the bytes, memory
    holds the frame and a chunk at a time, never a whole copy of the text."""
    check_size(len(data))
    if not data or data.isspace():
        raise CsvError("The file is empty.")
    codec, encoding = _encoding(data)
    delim = _delimiter(data, codec)
    if checked:
        header = next(_rows(csv.reader(_text(data, codec), delimiter=delim)))
        names = [str(n).strip() for n in header]
    else:
        names = _check_shape(_text(data, codec), delim)
    try:
        frame = pd.read_csv(io.BytesIO(data), sep=delim, encoding=codec, na_values=NA_VALUES,
                            keep_default_na=True, skip_blank_lines=True, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as e:  # pragma: no cover - caught above
        raise CsvError(f"The file could not be read as a table: {e}") from None
    frame.columns = names
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            if checked:
                continue
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = np.flatnonzero(np.isinf(values))
            if len(bad):
                raise CsvError(f"Column {_q(name)} has an infinite value on line {bad[0] + 2}: "
                               "replace it with a number or leave it empty.")
        elif not pd.api.types.is_bool_dtype(col):
            frame[name] = col.astype("string").str.strip().astype(object).where(col.notna())
    notes = []
    if encoding != "UTF-8":
        notes.append(f"The file is not UTF-8; it was read as {encoding}.")
    if delim != ",":
        notes.append("Values are separated by " + {";": "semicolons", "\t": "tabs",
                                                    "|": "vertical bars"}[delim] + ".")
    return ParsedTable(frame, encoding, delim, hashlib.sha256(data).hexdigest(), notes)


# ---- columns: roles and kinds -------------------------------------------------------------


def describe_columns(frame: pd.DataFrame, tasks: Iterable[str] | None = None,
                     inputs: Iterable[str] | None = None) -> list[ColumnInfo]:
    """Each column's type, missing count, and role: the given tasks and inputs; when no
    task is given, the last column is the task (the usual layout of a data file; a last
    column of names or ids is passed over); when no input is given, every other column
    is an input except text with many values (names, ids), which is ignored."""
    tasks = list(tasks or [])
    inputs = list(inputs) if inputs else None
    if not tasks:  # the last column that is not a name or an id
        usable = [str(c) for c in frame.columns
                  if pd.api.types.is_numeric_dtype(frame[c])
                  or frame[c].nunique(dropna=True) <= MAX_TEXT_VALUES]
        tasks = usable[-1:] or [str(frame.columns[-1])]
    out = []
    for name in map(str, frame.columns):
        col = frame[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        distinct = int(col.nunique(dropna=True))
        if name in tasks:
            role: Role = "task"
        elif inputs is not None:
            role = "input" if name in inputs else "ignore"
        else:
            role = "input" if numeric or distinct <= MAX_TEXT_VALUES else "ignore"
        out.append(ColumnInfo(name, "numeric" if numeric else "text", role, infer_kind(col),
                              int(col.isna().sum()), distinct))
    return out


def _check_task(frame: pd.DataFrame, c: ColumnInfo) -> None:
    col = frame[c.name]
    if c.missing == len(col):
        raise CsvError(f"Task column {_q(c.name)} is empty: every value is missing.")
    if c.distinct == 1:
        raise CsvError(f"Task column {_q(c.name)} has the same value in every row, so there is "
                       "nothing to learn: choose another task column.")
    if c.kind == "regression" and c.dtype == "text":
        raise CsvError(f"Task column {_q(c.name)} holds text, so it can only be a "
                       "classification task.")
    if c.kind == "classification":
        counts = col.value_counts(dropna=True)
        single = counts[counts == 1]
        if len(single):
            raise CsvError(f"Task column {_q(c.name)} has a class ({cut(str(single.index[0]))}) with a "
                           "single row: every class needs at least 2 rows, to appear in "
                           "training and test. Merge rare classes or make it a regression "
                           "task.")


def check_columns(frame: pd.DataFrame, columns: list[ColumnInfo]) -> None:
    """Every chosen role and kind is usable, or ``CsvError`` naming the column."""
    names = {c.name for c in columns}
    tasks = [c for c in columns if c.role == "task"]
    if not tasks:
        raise CsvError("Choose at least one task column.")
    if not any(c.role == "input" for c in columns):
        raise CsvError("Choose at least one input column (a column that is not a task).")
    for c in columns:
        if c.name not in names:  # pragma: no cover - built from the frame
            raise CsvError(f"No column {_q(c.name)} in the file.")
        if c.role == "task":
            _check_task(frame, c)
        elif c.role == "input" and c.dtype == "text" and c.distinct > MAX_TEXT_VALUES:
            raise CsvError(f"Input column {_q(c.name)} has {c.distinct:,} different text values: "
                           f"too many to encode (at most {MAX_TEXT_VALUES}). Leave it out of "
                           "the inputs, or make it a task.")


def parse_roles(frame: pd.DataFrame, tasks: Iterable[str] = (), inputs: Iterable[str] = (),
                kinds: Mapping[str, ColumnKind] | None = None) -> list[ColumnInfo]:
    """Roles from the CLI's ``--task COLUMN[:kind]`` and ``--input COLUMN`` (or the
    page's choices), checked against the file's columns."""
    known = [str(c) for c in frame.columns]
    kinds = dict(kinds or {})
    task_names = []
    for t in tasks:
        name, _, kind = t.partition(":") if t not in known else (t, "", "")
        if kind:
            if kind not in ("classification", "regression"):
                raise CsvError(f"Unknown task kind {_q(kind)} for column {_q(name)}: use "
                               "classification or regression.")
            kinds[name] = kind  # type: ignore[assignment]
        task_names.append(name)
    input_names = list(inputs)
    for name in [*task_names, *input_names, *kinds]:
        if name not in known:
            raise CsvError(f"No column {_q(name)} in the file; its columns are: "
                           f"{cut(', '.join(known), 300)}.")
    both = set(task_names) & set(input_names)
    if both:
        raise CsvError(f"Column {_q(sorted(both)[0])} is listed as both a task and an input.")
    cols = describe_columns(frame, task_names, input_names)
    return [ColumnInfo(c.name, c.dtype, c.role, kinds.get(c.name, c.kind), c.missing, c.distinct)
            for c in cols]


@dataclass
class StoredTable:
    """What the store keeps of a user's table: the file's bytes and how to read them."""

    name: str
    csv: bytes
    sha256: str
    meta: dict[str, Any]


def check_name(name: str) -> None:
    from .base import datasets

    if not name or not name.strip():
        raise CsvError("Give the data set a name.")
    if name in datasets.builtin_names():
        raise CsvError(f"{_q(name)} is the name of a built-in data set: choose another name.")
    if not NAME_RE.match(name):
        raise CsvError(f"The name {_q(name)} cannot be used: use up to 60 letters, digits, "
                       "'_', '-' or '.', starting with a letter or digit.")


def prepare(name: str, data: bytes, columns: list[ColumnInfo] | None = None,
            missing: MissingPolicy = "impute", parsed: ParsedTable | None = None,
            ) -> StoredTable:
    """Check a file and its column roles; ``columns`` None infers them."""
    check_name(name)
    parsed = parsed or read_table(data)
    columns = columns if columns is not None else describe_columns(parsed.frame)
    check_columns(parsed.frame, columns)
    meta = {
        "rows": len(parsed.frame), "encoding": parsed.encoding, "delimiter": parsed.delimiter,
        "columns": [c.to_json() for c in columns], "missing": missing, "notes": parsed.notes,
    }
    return StoredTable(name, data, parsed.sha256, meta)
