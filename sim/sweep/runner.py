"""Run every point of a sweep, resumably, and collect one results row per point.

A point's folder is ``DIR/runs/<point id>/``.  The point counts as done only
when its marker ``point.json`` exists; the marker is written last and
atomically, after every record of the run, so a kill at any moment leaves
either a done point or a torn folder that the next run redoes.  A point that
raised gets ``error.json`` instead; it is reported and retried on the next
run.  On a resume a marker is believed only when it names its folder's
point, its run is complete (``run.done.json``) with every record unchanged,
and its row is what the records give; anything else is redone.  A point's id
digests its resolved scenario and the content of every input file it reads
(``channel.trace``), so editing a trace reruns the points that use it.  ``results.csv`` is rebuilt from the markers after every point, in the
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

from sim.sweep.executors import ExecutorError, TaskFailure, check_ray_address, run_pool, run_ray
from sim.config.grid import point_id
from sim.store.outdir import OutputDirError, check_complete, file_sha256
from sim.store.records import atomic_write, json_value, write_json
from sim.store.results import result_row, write_results
from sim.config.scenario import Scenario, ScenarioError, SweepCfg, apply_overrides, scenario_to_yaml, sweep_points

__all__ = ["Point", "SweepBusyError", "SweepMismatchError", "SweepOutcome", "plan", "run_point", "run_sweep", "DONE", "FAILED"]

DONE = "point.json"
FAILED = "error.json"


class SweepBusyError(Exception):
    """Another sweep is writing into the same folder."""


class SweepMismatchError(Exception):
    """The folder holds a different sweep (and ``force`` was not given)."""


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


def _inputs(scn: Scenario, cache: dict[str, str]) -> str:
    """The content digests of the files a point reads, as text appended to its id's input."""
    if scn.channel.trace is None:
        return ""  # ids of points without input files stay what they always were
    path = scn.channel.trace
    if path not in cache:
        try:
            cache[path] = file_sha256(path)
        except OSError as err:
            raise ScenarioError(f"{path}: channel.trace: cannot read ({err.strerror or type(err).__name__})") from None
    return f"\n# input channel.trace sha256={cache[path]}\n"


def plan(scn: Scenario) -> list[Point]:
    """The points of ``scn``'s sweep block, each a complete single-run scenario."""
    base = scn.model_dump(mode="json")
    base["sweep"] = SweepCfg.model_validate({}).model_dump(mode="json")
    points: dict[str, Point] = {}
    digests: dict[str, str] = {}
    for params in sweep_points(scn):
        data = apply_overrides(json.loads(json.dumps(base)), list(params.items()))
        point = Scenario.model_validate(data)
        text = scenario_to_yaml(point)
        pid = point_id(text + _inputs(point, digests))
        # A value listed twice is one point, run and reported once.
        points.setdefault(pid, Point(pid, params, text))
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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable, torn, not UTF-8
        return None
    return data if isinstance(data, dict) else None


def _finished(folder: Path, p: Point) -> dict[str, Any] | None:
    """The ``ok`` marker of point ``p`` in ``folder`` if every check holds, else None (redo the point)."""
    marker = _read_json(folder / DONE)
    if marker is None or marker.get("status") != "ok" or marker.get("id") != p.id or folder.name != p.id:
        return None
    if marker.get("params") != json_value(p.params):
        return None
    try:
        check_complete(folder, verify=True)
        if (folder / "scenario.resolved.yaml").read_text(encoding="utf-8") != p.scenario_yaml:
            return None
        summary = _read_json(folder / "summary.json")
        if summary is None or json_value(result_row(summary, folder)) != marker.get("row"):
            return None
    except (OutputDirError, OSError, ValueError, KeyError, TypeError):
        return None
    return marker


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


def _collect_finished(out: Path, todo: list[Point], markers: dict[str, dict[str, Any]]) -> None:
    """Add the points that workers finished after the last result was read."""
    for p in todo:
        if p.id not in markers:
            marker = _finished(out / "runs" / p.id, p)
            if marker is not None:
                markers[p.id] = marker


def run_sweep(
    scn: Scenario,
    out: Path,
    *,
    executor: str = "pool",
    workers: int = 1,
    address: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> SweepOutcome:
    """Run the points of ``scn`` not yet done under ``out``; ``on_progress(done, total)`` after each.

    A folder that holds another sweep (its ``sweep.yaml`` differs) is refused
    with :class:`SweepMismatchError` unless ``force``: its ``results.csv``
    would lose the other sweep's rows.  On any exit, Ctrl-C included,
    ``results.csv`` holds every point finished so far.
    """
    if executor not in ("pool", "ray"):
        raise ExecutorError(f"--executor must be pool or ray (got {executor!r})")
    if executor == "ray":
        check_ray_address(address)
    points = plan(scn)
    with _lock(out):
        text = scenario_to_yaml(scn)
        try:
            before = (out / "sweep.yaml").read_text(encoding="utf-8")
        except FileNotFoundError:
            before = None
        except (OSError, ValueError):
            before = ""  # unreadable: not provably this sweep
        if before is not None and before != text and not force:
            raise SweepMismatchError(
                f"{out}: holds a different sweep (its sweep.yaml differs); use another --out, or --force to "
                "replace its results (points the two sweeps share are kept)"
            )
        atomic_write(out / "sweep.yaml", text)
        markers: dict[str, dict[str, Any]] = {}
        todo = []
        for p in points:
            marker = _finished(out / "runs" / p.id, p)
            if marker is not None:
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
        try:
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
        except BaseException:
            # Ctrl-C, or a fault of the executor: the results hold what finished.
            _collect_finished(out, todo, markers)
            write_results(out, points, markers, parquet=False)
            raise
        write_results(out, points, markers, parquet=True)
    return SweepOutcome(len(points), skipped, len(todo), failed, out / "results.csv")
