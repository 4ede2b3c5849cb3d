"""results.csv / results.parquet: one row per sweep point, its parameters and figures.

Rows follow the sweep's order; only finished points (``ok`` or ``error``)
appear.  Wall-clock time is left out, so the same sweep gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sim.core.columns import SUMMARY_COLUMNS
from sim.core.outcome import OUTCOMES
from sim.store.records import RecordError, atomic_write, read_record_text

__all__ = ["SUMMARY_COLUMNS", "is_sweep_folder", "result_row", "results_columns", "write_results", "read_results", "check_results"]



def is_sweep_folder(folder: Path) -> bool:
    """``folder`` holds a sweep (its results.csv and sweep.yaml)."""
    return (folder / "results.csv").is_file() and (folder / "sweep.yaml").is_file()


class _Point(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...


def _mean_snr_db(run_dir: Path) -> float:
    with open(run_dir / "clients.csv", newline="") as f:
        values = [float(r["snr_db"]) for r in csv.DictReader(f)]
    return float(np.mean(values)) if values else float("nan")


def result_row(summary: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """The figures of one finished run (``summary.json`` plus the mean uplink SNR)."""
    # The client rows the run has: rounds x clients unless clients are selected, unavailable or async.
    client_rounds = summary["delivered_total"] + summary["dropped_total"]
    row = {k: summary[k] for k in SUMMARY_COLUMNS[:10]}
    row["delivery_ratio"] = summary["delivered_total"] / client_rounds if client_rounds else float("nan")
    row["mean_snr_db"] = _mean_snr_db(run_dir)
    row.update({f"outcome_{o}": int(summary["outcomes"].get(o, 0)) for o in OUTCOMES})
    row.update({f"final_{k}": v for k, v in sorted(summary.get("final_metrics", {}).items())})
    return row


def results_columns(points: Sequence[_Point], markers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    params: list[str] = []
    for p in points:
        params += [k for k in p.params if k not in params]
    finals = sorted({k for m in markers.values() for k in m.get("row", {}) if k.startswith("final_")})
    # A swept key that is also a summary figure (rounds, seed) appears once,
    # as the parameter: both hold the same value.
    summary = [c for c in SUMMARY_COLUMNS if c not in params]
    return ["point_id", "status", *params, *summary, *finals, "error"]


def _rows(points: Sequence[_Point], markers: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for p in points:
        m = markers.get(p.id)
        if m is None:
            continue
        rows.append({"point_id": p.id, "status": m["status"], **p.params, **m.get("row", {}), "error": m.get("error")})
    return rows


def _text(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, sort_keys=True)
    return v


def write_results(
    out: Path, points: Sequence[_Point], markers: Mapping[str, Mapping[str, Any]], *, parquet: bool
) -> None:
    """Rebuild ``out/results.csv`` (and ``results.parquet``) from the markers, atomically."""
    cols = results_columns(points, markers)
    rows = _rows(points, markers)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows([_text(r.get(c)) for c in cols] for r in rows)
    atomic_write(out / "results.csv", buf.getvalue())
    if parquet:
        _write_parquet(out / "results.parquet", cols, rows)


def _write_parquet(path: Path, cols: list[str], rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for c in cols:
        values = [r.get(c) for r in rows]
        values = [json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v for v in values]
        try:
            arrays[c] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # A swept key with values of several types (1, "auto"): keep them as text.
            arrays[c] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(arrays), sink)
    atomic_write(path, sink.getvalue().to_pybytes())


def read_results(path: Path) -> list[dict[str, Any]]:
    """results.csv back as rows of typed values (numbers as float/int, empty as None)."""

    def typed(key: str, v: str) -> Any:
        if v == "":
            return None
        if key in ("point_id", "status", "error"):
            return v  # a hex id such as 7585004e4227 would parse as a float
        for cast in (int, float):
            try:
                return cast(v)
            except ValueError:
                pass
        return v

    with open(path, newline="") as f:
        return [{k: typed(k, v) for k, v in r.items()} for r in csv.DictReader(f)]


def check_results(folder: Path) -> list[dict[str, Any]]:
    """The rows of ``folder/results.csv`` after checking what a report reads; RecordError names the first problem."""
    import yaml

    sweep_path, path = folder / "sweep.yaml", folder / "results.csv"
    try:
        base = yaml.safe_load(read_record_text(sweep_path))
    except yaml.YAMLError as err:
        raise RecordError(f"{sweep_path}: not valid YAML ({type(err).__name__})") from None
    if not isinstance(base, dict):
        raise RecordError(f"{sweep_path}: expected a mapping (the base scenario)")
    try:
        table = list(csv.reader(io.StringIO(read_record_text(path), newline="")))
    except csv.Error as err:
        raise RecordError(f"{path}: not a CSV file ({err})") from None
    header = table[0] if table else []
    for column in ("point_id", "status", *SUMMARY_COLUMNS, "error"):
        if column not in header:
            raise RecordError(f"{path}: column {column!r} is missing (renamed, or written by another fedwave version)")
    for line, cells in enumerate(table[1:], start=2):
        if len(cells) != len(header):
            raise RecordError(f"{path}:{line}: {len(cells)} cells but the header has {len(header)}")
    rows = read_results(path)
    numeric = [c for c in SUMMARY_COLUMNS if c != "algorithm" and c in header]
    for line, row in enumerate(rows, start=2):
        if row["status"] not in ("ok", "error"):
            raise RecordError(f"{path}:{line}: status {str(row['status'])[:40]!r} is not ok or error")
        if row["status"] == "ok":
            for c in numeric:
                v = row.get(c)
                if not isinstance(v, (int, float)) and not (v is None and c in ("mean_snr_db", "delivery_ratio")):
                    raise RecordError(f"{path}:{line}: column {c}: not a number ({str(v)[:40]!r})")
    return rows
