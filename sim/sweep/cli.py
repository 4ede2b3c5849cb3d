"""``fedwave sweep`` and ``fedwave report``: argument parsing and exit codes.

Exit codes: 0 success, 1 a sweep finished with failed points, 2 bad input,
130 interrupted (Ctrl-C; the points finished so far are kept).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.config.errors import ScenarioError

__all__ = ["add_parsers", "main"]

EXIT_FAILED_POINTS = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def add_parsers(sub: Any) -> None:
    sw = sub.add_parser("sweep", help="run a scenario over a grid of values, resumably; write results and a report")
    sw.add_argument("scenario", type=Path, help="scenario YAML file (its sweep: block, if any, is the base grid)")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="sweep a dotted scenario key over values (crossed with the other keys); repeatable")
    sw.add_argument("--zip", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="values advanced together with the other --zip keys (equal lengths); repeatable")
    sw.add_argument("--seeds", type=int, help="seeds per point: seed, seed+1, ... (default 1)")
    sw.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a key of the base scenario; repeatable")
    sw.add_argument("--out", type=Path, help="sweep folder (default: runs/<scenario name>); rerun to resume")
    sw.add_argument("--workers", type=int, help="processes (pool) or CPUs for a local Ray (default: the cores)")
    sw.add_argument("--executor", choices=("pool", "ray"), default="pool", help="where points run (default pool)")
    sw.add_argument("--address", help="Ray cluster address (--executor ray); default: start a local instance")
    sw.add_argument("--force", action="store_true",
                    help="replace the results of a different sweep in --out (its shared points are kept)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    _report_options(sw)

    rep = sub.add_parser("report", help="write report.md and report.html of a run or sweep folder")
    rep.add_argument("folder", type=Path, help="a run folder (summary.json) or a sweep folder (results.csv)")
    _report_options(rep)


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target-accuracy", type=float, metavar="ACC",
                   help="costs are measured to this accuracy (default: 90%% of the best in the sweep)")
    p.add_argument("--baseline", metavar="ALGORITHM", help="savings are relative to this algorithm")


def _sweep_options(args: argparse.Namespace) -> dict[str, Any]:
    from sim.config.grid import parse_values

    block: dict[str, Any] = {"grid": {}, "zip": {}, "seeds": args.seeds}
    for part in ("grid", "zip"):
        for text in getattr(args, part):
            key, sep, raw = text.partition("=")
            if not sep or not key.strip() or not raw.strip():
                raise ScenarioError(f"--{part} {text}: expected dotted.key=v1,v2,...")
            try:
                values = parse_values(raw)
            except Exception as err:  # YAML errors of every kind
                raise ScenarioError(f"--{part} {key.strip()}: values are not valid ({type(err).__name__})") from None
            if not raw.strip().startswith("["):
                empty = [i for i, item in enumerate(raw.split(",")) if not item.strip()]
                if empty:
                    raise ScenarioError(f"--{part} {key.strip()}: value {empty[0] + 1} is empty (write null for none)")
            block[part][key.strip()] = values
    return block


def _check_report_options(args: argparse.Namespace) -> None:
    target = args.target_accuracy
    if target is not None and not 0 <= target <= 1:
        raise ScenarioError(f"--target-accuracy: must be a share in 0 .. 1 (got {target:g})")
    if args.baseline is not None:
        from workloads import available

        known = available()
        if args.baseline not in known:
            raise ScenarioError(f"--baseline: {args.baseline[:40]!r} is not one of {', '.join(known)}")


def _report(folder: Path, target: float | None, baseline: str | None) -> Path:
    from sim.store.records import RecordError
    from sim.store.results import is_sweep_folder
    from sim.report.run import is_run_folder, write_run_report

    try:
        if is_sweep_folder(folder):
            # Only here: the sweep analysis imports scipy.stats, seconds a run's report does not need.
            from sim.report.sweep import write_sweep_report
            from sim.store.results import check_results

            rows = check_results(folder)
            algs = sorted({str(r["algorithm"]) for r in rows if r["status"] == "ok"})
            if baseline is not None and algs and baseline not in algs:
                raise ScenarioError(f"--baseline: {baseline} is not in this sweep (its algorithms: {', '.join(algs)})")
            return write_sweep_report(folder, target, baseline)
        if is_run_folder(folder):
            from sim.store.outdir import check_complete, locked

            with locked(folder):
                check_complete(folder, verify=False)
                return write_run_report(folder)
    except RecordError as err:
        raise ScenarioError(str(err)) from None
    except OSError as err:
        raise ScenarioError(f"{err.filename or folder}: cannot read or write ({err.strerror or type(err).__name__})") from None
    except (ValueError, KeyError, TypeError, IndexError) as err:
        # A record damaged in a way no check above names: still one line, never a traceback.
        where = getattr(err, "filename", None) or folder
        raise ScenarioError(f"{where}: damaged or unreadable records ({type(err).__name__}: {str(err)[:80]})") from None
    raise ScenarioError(f"{folder}: neither a run folder (summary.json, rounds.csv, ...) nor a sweep folder (results.csv)")


def _sweep(args: argparse.Namespace) -> int:
    from sim.config.scenario import load_scenario
    from sim.sweep.executors import ExecutorError, default_workers
    from sim.sweep.runner import SweepBusyError, SweepMismatchError, run_sweep

    scn = load_scenario(args.scenario, args.overrides, _sweep_options(args))
    out: Path = args.out or Path("runs") / args.scenario.stem
    # A sweep folder has its lock file from the first instant a sweep used it.
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / ".sweep.lock").exists())):
        raise ScenarioError(f"{out}: exists and is not a sweep folder; choose another --out")
    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers: must be >= 1 (got {args.workers})")
    workers = args.workers or default_workers()
    quiet = args.quiet or not sys.stderr.isatty()
    try:
        if quiet:
            outcome = run_sweep(scn, out, executor=args.executor, workers=workers, address=args.address,
                                force=args.force)
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("points, ETA"),
                       TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("sweep", total=None)
                outcome = run_sweep(scn, out, executor=args.executor, workers=workers, address=args.address,
                                    on_progress=lambda done, total: bar.update(task, completed=done, total=total),
                                    force=args.force)
    except (ExecutorError, SweepBusyError, SweepMismatchError) as err:
        raise ScenarioError(str(err)) from None
    except KeyboardInterrupt:
        print(f"interrupted; finished points are kept: rerun the same command to resume ({out})", file=sys.stderr)
        return EXIT_INTERRUPTED
    report = _report(out, args.target_accuracy, args.baseline)
    print(f"{outcome.total} points: {outcome.skipped} already done, {outcome.ran} run now, {outcome.failed} failed")
    print(f"results: {outcome.results_csv}")
    print(f"report: {report}")
    return EXIT_FAILED_POINTS if outcome.failed else 0


def main(args: argparse.Namespace) -> int:
    from sim.store.outdir import OutputDirError

    try:
        _check_report_options(args)
        if args.command == "sweep":
            return _sweep(args)
        print(f"report: {_report(args.folder, args.target_accuracy, args.baseline)}")
        return 0
    except (ScenarioError, OutputDirError) as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
