"""Run records on disk: written atomically (temp file + rename), byte-reproducible.

Column names are public (see docs/records.md); floats are written with Python's
shortest round-trip representation, so equal runs give equal bytes.
"""

from __future__ import annotations

import csv
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
    cols = [_column_text(result.client_column(name), name in OPTIONAL_INT)
            for name in result.columns]
    # Numbers and outcome names never need csv quoting: rows are joined directly.
    lines = [",".join(result.columns), *map(",".join, zip(*cols))]
    atomic_write(path, "\n".join(lines) + "\n")


def write_positions_csv(path: Path, drop: Any) -> None:
    """positions.csv: where each client stands at the start (``drop``: a :class:`channels.geometry.Drop`)."""
    xy = np.asarray(drop.xy_m, dtype=float)
    n = xy.shape[0]
    site = np.zeros(n, dtype=np.int64) if drop.site is None else np.asarray(drop.site, dtype=np.int64)
    values = {"client": np.arange(n, dtype=np.int64), "x_m": xy[:, 0], "y_m": xy[:, 1], "site": site,
              "distance_m": np.asarray(drop.distance_2d_m, dtype=float)}
    cols = [_column_text(client_columns(values, POSITION_COLUMNS)[c], False) for c in POSITION_COLUMNS]
    lines = [",".join(POSITION_COLUMNS), *map(",".join, zip(*cols))]
    atomic_write(path, "\n".join(lines) + "\n")


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
