"""Run one scenario end to end and write its records."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from channels.trace import trace_csv
from sim import __version__
from sim.core.engine import Engine, RunResult
from sim.store.outdir import OutputDirError, own_run_dir
from sim.store.records import atomic_write, write_clients_csv, write_json, write_positions_csv, write_rounds_csv
from sim.report.summary import cell_count
from sim.core.rng import branch
from sim.report.worker import ReportWorker, start_report_worker
from sim.store.run_records import run_data
from sim.config.scenario import Scenario, scenario_to_yaml

__all__ = ["OutputDirError", "run_scenario", "summarize"]


def spectrum_mhz(scn: Scenario) -> float:
    """Spectrum the run's cells occupy [MHz]: a hex grid without interference has one orthogonal band per cell."""
    cell = scn.cell
    per_cell = cell.bandwidth_mhz
    if cell.duplex == "fdd":
        per_cell += cell.downlink_bandwidth_mhz or cell.bandwidth_mhz
    return per_cell * (cell_count(scn) if scn.channel.interference == "none" else 1)


def summarize(scn: Scenario, result: RunResult, wall_time_s: float) -> dict[str, Any]:
    outcomes = Counter(result.client_column("outcome").tolist())
    final = {k: v for k, v in (result.rounds[-1] if result.rounds else {}).items() if k.startswith("eval_")}
    return {
        "seed": scn.seed,
        "algorithm": scn.workload.algorithm,
        "rounds": scn.rounds,
        "clients": scn.clients.count,
        "sim_time_s": result.sim_time_s,
        "uplink_bytes_total": sum(r["uplink_bytes"] for r in result.rounds),
        "downlink_bytes_total": sum(r["downlink_bytes"] for r in result.rounds),
        "downlink_air_bytes_total": sum(r["downlink_air_bytes"] for r in result.rounds),
        "spectrum_mhz": spectrum_mhz(scn),
        "uplink_prbs": int(scn.cell.bandwidth_mhz * 1e3 // (12 * scn.cell.scs_khz)),
        "max_participants": max((int(r["participants"]) for r in result.rounds), default=0),
        "airtime_s_total": float(result.client_column("airtime_s").sum()),
        "energy_j_total": float(result.client_column("energy_j").sum()),
        "delivered_total": int(result.client_column("delivered").sum()),
        "dropped_total": int(len(result.client_column("delivered")) - result.client_column("delivered").sum()),
        "outcomes": dict(sorted(outcomes.items())),
        "final_metrics": final,
        "wall_time_s": wall_time_s,
        "fedwave_version": __version__,
    }


def run_scenario(
    scn: Scenario, out: Path, *, force: bool = False, quiet: bool = True, report: bool | str = True
) -> dict[str, Any]:
    """Run ``scn`` and write every record under ``out``; returns the summary.

    ``out`` is owned for the whole run (a second run into it is refused with
    :class:`OutputDirError`) and its previous run, if any (``force``), is
    replaced at the end in one commit: see :mod:`sim.store.outdir`.
    ``report=True`` writes ``report.md`` (a sweep's points); ``"full"`` the
    report with plots and HTML (``fedwave run``), both part of the commit and
    both by :func:`sim.report.run.write_run_report`; ``False`` none.
    """
    # Forked before the run folder is locked, so that the worker never holds the lock.
    worker = start_report_worker() if report == "full" else None
    try:
        return _run(scn, out, force, quiet, report, worker)
    finally:
        if worker is not None:
            worker.close()


def _run(scn: Scenario, out: Path, force: bool, quiet: bool, report: bool | str, worker: ReportWorker | None) -> dict[str, Any]:
    import workloads  # registers the built-in algorithms

    with own_run_dir(out, force) as staging:
        t_wall = time.perf_counter()
        seed = branch(scn.seed, "workload")  # the algorithm's branch of the run's seed tree
        algorithm = workloads.create(scn.workload.algorithm, scn.workload, scn.clients.count, seed)
        engine = Engine(scn, algorithm)
        drop = engine.radio.drop  # where the clients start (the report's map), before any move
        if quiet:
            result = engine.run()
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("rounds", total=scn.rounds)
                result = engine.run(on_round=lambda _row: bar.advance(task))
        wall = time.perf_counter() - t_wall
        summary = summarize(scn, result, wall)
        data = run_data(scn, result, summary, drop) if report else None
        # The worker draws the report while this process writes the records.
        drawing = worker is not None and worker.draw(staging, data)
        atomic_write(staging / "scenario.resolved.yaml", scenario_to_yaml(scn))
        write_rounds_csv(staging / "rounds.csv", result)
        write_clients_csv(staging / "clients.csv", result)
        write_json(staging / "summary.json", summary)
        write_positions_csv(staging / "positions.csv", drop)
        if scn.channel.trace_export:
            atomic_write(staging / "channel_trace.csv", trace_csv(engine.radio.channel.history))
        why = worker.wait() if drawing and worker is not None else None
        if why is not None:
            print(f"fedwave: the report is drawn in the run's own process ({why.strip().splitlines()[-1]})",
                  file=sys.stderr)
        if report and (not drawing or why is not None):
            from sim.report.run import write_run_report

            write_run_report(staging, data, plots=report == "full")
    return summary
