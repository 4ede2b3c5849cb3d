"""Run every point of a sweep, resumably, and collect one results row per point.

A point's folder is ``DIR/runs/<point id>/``.  The point counts as done only
when its marker ``point.json`` exists; the marker is written last and
atomically, after every record of the run, so a kill at any moment leaves
either a done point or a torn folder that the next run redoes.  A point that
raised gets ``error.json`` instead; it is reported and retried on the next
run.  ``results.csv`` is rebuilt from the markers after every point, in the
sweep's own order, so a point appears once however often the sweep restarts.
"""

from __future__ import annotations

import errno
import fcntl
import json
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sim.executors import ExecutorError, TaskFailure, check_ray_address, run_pool, run_ray
from sim.grid import point_id
from sim.records import atomic_write, write_json
from sim.results import result_row, write_results
from sim.scenario import Scenario, SweepCfg, apply_overrides, scenario_to_yaml, sweep_points

__all__ = ["Point", "SweepBusyError", "SweepOutcome", "plan", "run_point", "run_sweep", "DONE", "FAILED"]

DONE = "point.json"
FAILED = "error.json"


class SweepBusyError(Exception):
    """Another sweep is writing into the same folder."""


@dataclass(frozen=True)
class Point:
    id: str
    params: dict[str, Any]
    scenario_yaml: str


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    ran: int
    failed: int
    results_csv: Path


def plan(scn: Scenario) -> list[Point]:
    """The points of ``scn``'s sweep block, each a complete single-run scenario."""
    base = scn.model_dump(mode="json")
    base["sweep"] = SweepCfg.model_validate({}).model_dump(mode="json")
    points: dict[str, Point] = {}
    for params in sweep_points(scn):
        data = apply_overrides(json.loads(json.dumps(base)), list(params.items()))
        text = scenario_to_yaml(Scenario.model_validate(data))
        # A value listed twice is one point, run and reported once.
        points.setdefault(point_id(text), Point(point_id(text), params, text))
    return list(points.values())


def run_point(pid: str, params: dict[str, Any], scenario_yaml: str, run_dir: str) -> dict[str, Any]:
    """Run one point in ``run_dir`` and write its marker; never raises for a failing run."""
    from sim.run import run_scenario

    out = Path(run_dir)
    (out / FAILED).unlink(missing_ok=True)
    try:
        scn = Scenario.model_validate(yaml.safe_load(scenario_yaml))
        summary = run_scenario(scn, out, force=True, quiet=True)
        marker = {"id": pid, "params": params, "status": "ok", "row": result_row(summary, out)}
        marker["wall_time_s"] = summary["wall_time_s"]
        write_json(out / DONE, marker)
    except Exception as err:
        last = traceback.extract_tb(err.__traceback__)[-1]
        where = f" ({Path(last.filename).name}:{last.lineno})"
        marker = {"id": pid, "params": params, "status": "error", "error": f"{type(err).__name__}: {err}{where}"}
        write_json(out / FAILED, marker)
    return marker


def _read_marker(folder: Path) -> dict[str, Any] | None:
    for name in (DONE, FAILED):
        try:
            return dict(json.loads((folder / name).read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            continue
    return None


@contextmanager
def _lock(out: Path, wait_s: float = 10.0) -> Iterator[None]:
    """One sweep per folder at a time; the kernel drops the lock when its holder dies."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".sweep.lock", "w") as fh:
        t_end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > t_end:
                    raise SweepBusyError(f"{out}: another fedwave sweep is writing into this folder") from None
                time.sleep(0.1)
        yield


def run_sweep(
    scn: Scenario,
    out: Path,
    *,
    executor: str = "pool",
    workers: int = 1,
    address: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepOutcome:
    """Run the points of ``scn`` not yet done under ``out``; ``on_progress(done, total)`` after each."""
    if executor not in ("pool", "ray"):
        raise ExecutorError(f"--executor must be pool or ray (got {executor!r})")
    if executor == "ray":
        check_ray_address(address)
    points = plan(scn)
    with _lock(out):
        atomic_write(out / "sweep.yaml", scenario_to_yaml(scn))
        markers: dict[str, dict[str, Any]] = {}
        todo = []
        for p in points:
            marker = _read_marker(out / "runs" / p.id)
            if marker is not None and marker.get("status") == "ok":
                markers[p.id] = marker
            else:
                todo.append(p)
        skipped = len(markers)
        if on_progress:
            on_progress(skipped, len(points))
        tasks = [(p.id, p.params, p.scenario_yaml, str(out / "runs" / p.id)) for p in todo]
        stream: Iterator[tuple[int, Any]]
        if not tasks:
            stream = iter(())
        elif executor == "pool":
            stream = run_pool(run_point, tasks, workers)
        else:
            stream = run_ray(run_point, tasks, address, scn.sweep.gpus_per_point, num_cpus=workers)
        failed = 0
        write_results(out, points, markers, parquet=False)
        for index, marker in stream:
            if isinstance(marker, TaskFailure):
                p = todo[index]
                marker = {"id": p.id, "params": p.params, "status": "error", "error": marker.error}
                write_json(out / "runs" / p.id / FAILED, marker)
            failed += marker["status"] != "ok"
            markers[marker["id"]] = marker
            write_results(out, points, markers, parquet=False)
            if on_progress:
                on_progress(len(markers), len(points))
        write_results(out, points, markers, parquet=True)
    return SweepOutcome(len(points), skipped, len(todo), failed, out / "results.csv")
