"""A run folder's records read back: the data a run report draws on (:class:`RunData`).

``fedwave run`` builds it from what the run holds (:func:`run_data`);
``fedwave report`` from the folder (:func:`load_run`), every damaged file,
row or cell named in one line (:class:`~sim.store.records.RecordError`).  Nothing
here imports the engine or the radio.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.core.columns import ASYNC_CLIENT_COLUMNS, CLIENT_COLUMNS, OPTIONAL_INT, POSITION_COLUMNS, RunResult
from sim.core.outcome import OUTCOMES
from sim.store.outdir import COMPLETE, DATA_RECORDS
from sim.store.records import ROUND_COLUMNS, RecordError, json_value, read_record_text
from sim.config.scenario import Scenario

__all__ = ["RunData", "client_data", "run_data", "load_run", "is_run_folder"]


@dataclass
class RunData:
    """What a report draws on: the scenario, the round rows, client columns over all rounds, the summary.

    clients : column name -> [client-rounds] array; ``outcome`` as names
    xy_m : [num_clients, 2] client positions at the start (None: not recorded, no cell map)
    distance_2d_m : [num_clients] their distance to the serving site at the start
    """

    scn: Scenario
    rounds: list[dict[str, Any]]
    clients: dict[str, np.ndarray]
    summary: dict[str, Any]
    xy_m: np.ndarray | None = None
    distance_2d_m: np.ndarray | None = None
    run_result: RunResult | None = None

    def result(self) -> RunResult:
        if self.run_result is not None:
            return self.run_result
        columns = ASYNC_CLIENT_COLUMNS if self.scn.round.mode == "async" else CLIENT_COLUMNS
        out = RunResult(rounds=self.rounds, sim_time_s=float(self.summary["sim_time_s"]), columns=columns)
        codes = {o: i for i, o in enumerate(OUTCOMES)}
        for c in columns:
            col = self.clients[c]
            out.clients[c] = [np.array([codes[o] for o in col], dtype=np.int8) if c == "outcome" else col]
        return out


def client_data(result: RunResult) -> dict[str, np.ndarray]:
    """:attr:`RunData.clients` of a run still in memory."""
    return {c: result.client_column(c) for c in result.columns}


def run_data(scn: Scenario, result: RunResult, summary: dict[str, Any], drop: Any = None) -> RunData:
    """The report's data from a run still in memory; ``drop``: the clients' placement at the start.

    :attr:`RunData.clients` is left empty: the plots join the columns over rounds where they are drawn
    (:func:`client_data`, in :func:`sim.report.run.write_run_report`); sent to the report worker, they would
    be two thirds of the bytes, and report.md alone does not need them.
    """
    clients: dict[str, np.ndarray] = {}
    xy = None if drop is None else np.asarray(drop.xy_m)
    dist = None if drop is None else np.asarray(drop.distance_2d_m)
    # As the summary reads back from summary.json, so both routes give the same report.
    return RunData(scn, result.rounds, clients, json_value(summary), xy, dist, result)


def is_run_folder(folder: Path) -> bool:
    """``folder`` holds a run, finished or not (:func:`sim.store.outdir.check_complete` tells which)."""
    return any((folder / f).is_file() for f in (COMPLETE, *DATA_RECORDS))


def _num(v: str) -> Any:
    if v == "":
        return float("nan")
    try:
        return int(v)
    except ValueError:
        return float(v)


def _csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    import io

    try:
        reader = csv.DictReader(io.StringIO(read_record_text(path), newline=""))
        rows = list(reader)
    except csv.Error as err:
        raise RecordError(f"{path}: not a CSV file ({err})") from None
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise RecordError(f"{path}: column {missing[0]!r} is missing ({len(missing)} of the record's columns)")
    for line, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise RecordError(f"{path}:{line}: the row has {'more' if None in row else 'fewer'} cells than the header")
    return rows


def _numbers(path: Path, rows: list[dict[str, str]], columns: Any) -> list[dict[str, Any]]:
    out = []
    for line, row in enumerate(rows, start=2):
        typed: dict[str, Any] = {}
        for k, v in row.items():
            if k not in columns:
                typed[k] = v
                continue
            try:
                typed[k] = _num(v)
            except ValueError:
                raise RecordError(f"{path}:{line}: column {k}: not a number ({v[:40]!r})") from None
        out.append(typed)
    return out


def _own_workload_keys(data: Any) -> Any:
    """``data`` with the workload keys its algorithm does not take left out.

    Records written before each algorithm owned its config list every
    algorithm's workload keys at their defaults; reading them back must not fail
    on those.  Anything else that is wrong still fails on the second try.
    """
    from sim.config.workload_schema import workload_configs

    wl = data.get("workload") if isinstance(data, dict) else None
    if not isinstance(wl, dict):
        return data
    cls = workload_configs().get(str(wl.get("algorithm", "none")))
    if cls is None:
        return data
    return {**data, "workload": {k: v for k, v in wl.items() if k in cls.model_fields}}


def load_run(folder: Path) -> RunData:
    """The records of ``folder``; RecordError names the first damaged file, row or column."""
    from pydantic import ValidationError

    path = folder / "scenario.resolved.yaml"
    try:
        data = yaml.safe_load(read_record_text(path))
        try:
            scn = Scenario.model_validate(data)
        except ValidationError:
            scn = Scenario.model_validate(_own_workload_keys(data))
    except yaml.YAMLError as err:
        raise RecordError(f"{path}: not valid YAML ({type(err).__name__})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise RecordError(f"{path}: {where}: {first['msg'][:80]}") from None
    rounds_path = folder / "rounds.csv"
    raw_rounds = _csv_rows(rounds_path, ROUND_COLUMNS)
    rounds = _numbers(rounds_path, raw_rounds, set(raw_rounds[0]) if raw_rounds else set())
    clients_path = folder / "clients.csv"
    wanted = ASYNC_CLIENT_COLUMNS if scn.round.mode == "async" else CLIENT_COLUMNS
    fast = _client_columns(clients_path, wanted)
    xy, dist = _positions(folder / "positions.csv")
    if fast is not None:
        return RunData(scn, rounds, fast, _summary(folder), xy, dist)
    rows = _csv_rows(clients_path, wanted)
    numeric = [c for c in wanted if c != "outcome"]
    typed = _numbers(clients_path, rows, set(numeric))
    for line, row in enumerate(rows, start=2):
        if row["outcome"] not in OUTCOMES:
            raise RecordError(f"{clients_path}:{line}: outcome {row['outcome'][:40]!r} is not one of {', '.join(OUTCOMES)}")
    clients: dict[str, np.ndarray] = {}
    for c in wanted:
        if c == "outcome":
            clients[c] = np.array([r[c] for r in rows], dtype=object)
        elif c in OPTIONAL_INT:
            clients[c] = np.array([-1 if r[c] != r[c] else int(r[c]) for r in typed], dtype=np.int64)
        else:
            clients[c] = np.array([r[c] for r in typed], dtype=float)
    return RunData(scn, rounds, clients, _summary(folder), xy, dist)


def _positions(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(xy_m [n, 2], distance_2d_m [n]) from positions.csv; (None, None) where the run did not record it."""
    if not path.is_file():
        return None, None
    rows = _csv_rows(path, POSITION_COLUMNS)
    typed = _numbers(path, rows, set(POSITION_COLUMNS))
    try:
        xy = np.array([[r["x_m"], r["y_m"]] for r in typed], dtype=float).reshape(-1, 2)
        dist = np.array([r["distance_m"] for r in typed], dtype=float)
    except (TypeError, ValueError):
        raise RecordError(f"{path}: x_m, y_m and distance_m must be numbers") from None
    return xy, dist


def _client_columns(path: Path, wanted: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """clients.csv as columns, parsed by pyarrow's CSV reader; None where anything is off.

    The row-by-row reader then finds and names the first damaged row or cell.
    Floats are parsed correctly rounded, so the columns are the run's own.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {c: pa.string() if c == "outcome" else pa.float64() for c in wanted}
    options = pacsv.ConvertOptions(column_types=types, include_columns=list(wanted), strings_can_be_null=False,
                                   null_values=["", "nan"])
    try:
        table = pacsv.read_csv(path, convert_options=options)
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return None
    out: dict[str, np.ndarray] = {}
    for c in wanted:
        col = table.column(c)
        if c == "outcome":
            text = np.array(col.to_pylist(), dtype=object)
            if not set(OUTCOMES).issuperset(set(text.tolist())):
                return None
            out[c] = text
            continue
        values = col.to_numpy(zero_copy_only=False).astype(float)
        if c in OPTIONAL_INT:
            empty = col.is_null().to_numpy(zero_copy_only=False)
            if not np.all(np.isfinite(values) | empty):
                return None
            out[c] = np.where(empty, -1, np.where(empty, 0.0, values)).astype(np.int64)
        else:
            out[c] = values
    return out


def _summary(folder: Path) -> dict[str, Any]:
    summary_path = folder / "summary.json"
    try:
        summary = json.loads(read_record_text(summary_path))
    except ValueError as err:
        raise RecordError(f"{summary_path}: not valid JSON ({str(err)[:60]})") from None
    if not isinstance(summary, dict):
        raise RecordError(f"{summary_path}: expected a JSON object, got {type(summary).__name__}")
    for key in ("sim_time_s", "uplink_bytes_total", "downlink_bytes_total", "airtime_s_total", "energy_j_total",
                "delivered_total", "outcomes"):
        if key not in summary:
            raise RecordError(f"{summary_path}: key {key!r} is missing")
        ok = isinstance(summary[key], dict) if key == "outcomes" else isinstance(summary[key], (int, float)) and not isinstance(summary[key], bool)
        if not ok:
            raise RecordError(f"{summary_path}: {key}: not a {'mapping' if key == 'outcomes' else 'number'} ({str(summary[key])[:40]!r})")
    return summary
