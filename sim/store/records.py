"""Run records on disk: written atomically (temp file + rename), byte-reproducible.

Column names are public (see docs/records.md); floats are written with Python's
shortest round-trip representation, so equal runs give equal bytes.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.columns import OPTIONAL_INT, POSITION_COLUMNS, ROUND_COLUMNS, RunResult, client_columns

__all__ = ["RecordError", "read_record_text", "atomic_write", "write_rounds_csv", "write_clients_csv", "write_positions_csv", "write_json", "json_value", "ROUND_COLUMNS"]



class RecordError(Exception):
    """A record that cannot be read back; ``str(err)`` names the file, row or column, and the problem."""


def read_record_text(path: Path) -> str:
    """A record file's text; RecordError (one line) where it is not UTF-8 or cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not a text file (invalid UTF-8)") from None
    except OSError as err:
        raise RecordError(f"{path}: cannot read ({err.strerror})") from None


def _create_temp(folder: Path, name: str) -> tuple[int, Path]:
    """A new file beside ``name``, created with the umask (mkstemp's 0600 would hide records from the group)."""
    for _ in range(100):
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name for {name}")


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path.parent, path.name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _cell(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def write_rounds_csv(path: Path, result: RunResult) -> None:
    # Union over rounds, in order of first appearance: a metric may start late.
    metric_cols = list(dict.fromkeys(k for row in result.rounds for k in row if k not in ROUND_COLUMNS))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*ROUND_COLUMNS, *metric_cols])
    for row in result.rounds:
        w.writerow([_cell(row.get(c, float("nan"))) for c in (*ROUND_COLUMNS, *metric_cols)])
    atomic_write(path, buf.getvalue())


def _column_text(values: np.ndarray, optional: bool) -> list[str]:
    """A column's cells as text, as csv.writer would write them (``str``; ``optional``: "" for v < 0).

    Columns that repeat (distances, devices, per-round constants) are formatted
    once per distinct value.
    """
    # A sample tells whether the column repeats: sorting one that does not costs more than it saves.
    if values.dtype.kind in "iubf" and np.unique(values[:2048]).size * 2 < min(values.size, 2048):
        uniq, inverse = np.unique(values, return_inverse=True)
        if uniq.size * 4 < values.size:
            text = np.array(["" if optional and v < 0 else str(v) for v in uniq.tolist()], dtype=object)
            return text[inverse.reshape(-1)].tolist()
    plain = values.tolist()
    if optional:
        return ["" if v < 0 else str(v) for v in plain]
    return list(map(str, plain))


def write_clients_csv(path: Path, result: RunResult) -> None:
    _write_columns(path, list(result.columns),
                   [(result.client_column(name), name in OPTIONAL_INT) for name in result.columns])


def write_positions_csv(path: Path, drop: Any) -> None:
    """positions.csv: where each client stands at the start (``drop``: a :class:`channels.geometry.Drop`)."""
    xy = np.asarray(drop.xy_m, dtype=float)
    n = xy.shape[0]
    site = np.zeros(n, dtype=np.int64) if drop.site is None else np.asarray(drop.site, dtype=np.int64)
    values = {"client": np.arange(n, dtype=np.int64), "x_m": xy[:, 0], "y_m": xy[:, 1], "site": site,
              "distance_m": np.asarray(drop.distance_2d_m, dtype=float)}
    columns = client_columns(values, POSITION_COLUMNS)
    _write_columns(path, list(POSITION_COLUMNS), [(columns[c], False) for c in POSITION_COLUMNS])


# Past this many cells a file's columns are formatted by pyarrow, whose import (0.2 s) then pays for itself.
ARROW_CELLS = 200_000


def _write_columns(path: Path, names: list[str], columns: list[tuple[np.ndarray, bool]],
                   arrow: bool | None = None) -> None:
    """A CSV of equal-length columns (values, optional int: "" for v < 0), as csv.writer writes their cells.

    Numbers and outcome names never need csv quoting: rows are joined directly.
    ``arrow``: format with pyarrow (None: past ARROW_CELLS cells); the bytes are the same either way.
    """
    rows = columns[0][0].shape[0] if columns else 0
    if arrow is None:
        arrow = rows * len(columns) > ARROW_CELLS and _arrow_writes_repr()
    header = ",".join(names) + "\n"
    if arrow and rows:
        atomic_write(path, header.encode() + _arrow_rows(columns))
        return
    cols = [_column_text(values, optional) for values, optional in columns]
    atomic_write(path, header + "".join(line + "\n" for line in map(",".join, zip(*cols))))


@functools.cache
def _arrow_writes_repr() -> bool:
    """Whether this pyarrow formats, through :func:`_arrow_text`, a probe of edge cases as Python does.

    The rule in _arrow_text was found on one pyarrow version; another that
    prints differently falls back to Python's formatting rather than change the records.
    """
    probe = np.array([0.1, 1 / 3, -2.5e-4, 1e-4, 9.999999999e9, 123456.789, 2.0**40 + 0.5, 23.0, -7.0, 0.0, -0.0,
                      1e15, 1e16, 5e-324, 1e-5, 1e10, 1e300, float("nan"), float("inf"), -float("inf")])
    ints = np.array([0, -1, 7, 2**62, -(2**62)], dtype=np.int64)
    try:
        floats_ok = _arrow_text(probe, False).to_pylist() == [repr(v) for v in probe.tolist()]
        ints_ok = _arrow_text(ints, True).to_pylist() == ["" if v < 0 else str(v) for v in ints.tolist()]
    except Exception:  # an older pyarrow without a function used here
        return False
    return bool(floats_ok and ints_ok)


def _arrow_rows(columns: list[tuple[np.ndarray, bool]]) -> bytes:
    """The CSV rows of ``columns``, each cell's text made by pyarrow where it is Python's, else by Python."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({str(i): _arrow_text(values, optional) for i, (values, optional) in enumerate(columns)})
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return bytes(sink.getvalue())


def _arrow_text(values: np.ndarray, optional: bool) -> Any:
    """A column's cells as a pyarrow string array: the text :func:`_column_text` gives, cell for cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.dtype.kind
    if kind in "iu" and values.dtype.itemsize <= 8:
        text = pc.cast(pa.array(values), pa.string())  # an integer's decimal digits, as str() writes them
        return pc.if_else(pa.array(values < 0), "", text) if optional else text
    if kind != "f" or optional or values.dtype.itemsize > 8:  # text, bools, long doubles: Python's
        return pa.array(_column_text(values, optional), type=pa.string())
    v = values.astype(float, copy=False)
    # Where repr and pyarrow (both shortest round-trip) print the same digits the same way: positional
    # notation, which repr keeps from 1e-4 to 1e16 and pyarrow to 1e10, and a fraction (repr writes 23.0,
    # pyarrow 23).  Whole numbers get repr's ".0"; the rest (nan, inf, -0.0, tiny, huge) are rare: repr.
    with np.errstate(invalid="ignore"):
        mag = np.abs(v)
        whole = (v == np.trunc(v)) & (mag < 1e16) & ~((v == 0.0) & np.signbit(v))
        plain = (mag >= 1e-4) & (mag < 1e10) & ~whole
    text = pc.cast(pa.array(v), pa.string())
    if whole.any():
        ints = pc.binary_join_element_wise(pc.cast(pa.array(np.where(whole, v, 0.0).astype(np.int64)), pa.string()),
                                           ".0", "")
        text = pc.if_else(pa.array(whole), ints, text)
    odd = ~(whole | plain)
    if odd.any():
        where = np.flatnonzero(odd)
        text = pc.replace_with_mask(text, pa.array(odd), pa.array([repr(x) for x in v[where].tolist()], pa.string()))
    return text


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def json_value(v: Any) -> Any:
    """``v`` as it reads back from a record's JSON (numpy scalars unwrapped, non-finite floats as null)."""
    return json.loads(json.dumps(_jsonable(v)))


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, json.dumps(_jsonable(data), indent=2) + "\n")
