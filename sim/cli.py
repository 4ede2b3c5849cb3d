"""The ``fedwave`` command: run, validate, schema (and sweep, report: see ``sim.sweep.cli``; cache: ``sim.cache_cli``).

Exit codes: 0 success, 2 bad input (scenario, options, output folder), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sim.config.errors import ScenarioError

__all__ = ["main"]

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"fedwave: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fedwave", description="Federated fine-tuning of language models over wireless networks.")
    p.add_argument("--version", action="version", version=f"fedwave {__import__('sim').__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and write its records and report")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--out", type=Path, help="output folder (default: runs/<scenario name>)")
    run.add_argument("--force", action="store_true", help="write into a non-empty output folder")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a scenario key (dotted name; value parsed as YAML); repeatable")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-plots", action="store_true",
                     help="report.md without plots or report.html (as a sweep's points; `fedwave report` adds them later)")

    val = sub.add_parser("validate", help="check a scenario file and print it with every default filled in")
    val.add_argument("scenario", type=Path)
    val.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    sch = sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    sch.add_argument("--markdown", action="store_true", help="print the key reference as a Markdown table")

    from sim.sweep.cli import add_parsers

    add_parsers(sub)
    from sim.cache_cli import add_parser as add_cache_parser

    add_cache_parser(sub)
    return p


def _table(rows: list[tuple[str, Any, str]]) -> list[str]:
    out = ["| key | default | meaning |", "|---|---|---|"]
    for name, default, desc in rows:
        shown = "null" if default is None else json.dumps(default)
        out.append(f"| `{name}` | `{shown}` | {desc} |")
    return out


def _schema_markdown() -> str:
    """The scenario reference of docs/scenarios.md: every section's keys, then each algorithm's own workload keys."""
    from sim.config.scenario import leaf_fields
    from sim.config.workload_schema import WorkloadConfig, own_fields, workload_groups

    groups = workload_groups()
    common = set(WorkloadConfig.model_fields)
    lines = _table([row for row in leaf_fields() if not row[0].startswith("workload.") or row[0][9:] in common])
    lines += [
        "",
        "### Workload keys by algorithm",
        "",
        "Each algorithm's config class declares the `workload` keys it takes, beside its code "
        "(`workloads/config.py`, `workloads/<algorithm>_config.py`); a key the chosen algorithm does not take is an "
        "error. The two keys above apply to every algorithm.",
    ]
    for cls, names in groups:
        own = own_fields(cls)
        if cls is WorkloadConfig or not own:
            continue
        users = ", ".join(f"`{n}`" for n in names)
        parent = next(b for b in cls.__mro__[1:] if issubclass(b, WorkloadConfig))
        beside = "" if parent is WorkloadConfig else f", beside those of `{parent.__name__}`"
        lines += ["", f"**{users}** (`{cls.__name__}`{beside}):", ""]
        lines += _table([(f"workload.{k}", cls.model_fields[k].get_default(call_default_factory=True),
                          cls.model_fields[k].description or "") for k in own])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    with _noting_interrupts() as interrupted:
        try:
            return _main(argv)
        except BaseException as err:
            # A Ctrl-C can surface as another exception: pydantic turns one that lands while it builds a
            # validator (the simulator's imports) into a SchemaError.
            if not (isinstance(err, KeyboardInterrupt) or (interrupted and isinstance(err, Exception))):
                raise
            # The records of a run are committed whole or not at all; a sweep keeps its finished points.
            print("fedwave: interrupted; nothing unfinished was kept", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            # A worker forked for a report that was not drawn (bad input, an error); none if never imported.
            forked = sys.modules.get("sim.report.worker")
            if forked is not None:
                forked.drop_early_report_worker()


@contextlib.contextmanager
def _noting_interrupts() -> Iterator[list[int]]:
    """A list that gets an entry at each Ctrl-C meanwhile; Ctrl-C still raises KeyboardInterrupt.

    Only where Python's own handler is in place, in the main thread: a caller that handles (or
    ignores) Ctrl-C keeps its way.
    """
    seen: list[int] = []
    ours = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if not ours or threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def on_sigint(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run" and not args.no_plots:
        from sim.report.worker import fork_early_report_worker

        # Before this process imports the simulator: the worker's imports (matplotlib's) then run beside them.
        fork_early_report_worker()
    if args.command == "schema":
        from sim.config.scenario import Scenario

        print(_schema_markdown() if args.markdown else json.dumps(Scenario.model_json_schema(), indent=2))
        return 0
    if args.command == "cache":
        from sim import cache_cli

        return cache_cli.main(args)
    if args.command in ("sweep", "report"):
        from sim.sweep import cli as sweep_cli

        return sweep_cli.main(args)
    from sim.config.scenario import load_scenario

    try:
        scn = load_scenario(args.scenario, args.overrides)
    except ScenarioError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "validate":
        from sim.config.scenario import scenario_to_yaml

        print(scenario_to_yaml(scn), end="")
        return 0

    from sim.run import OutputDirError, run_scenario

    out = args.out or Path("runs") / args.scenario.stem
    quiet = args.quiet or not sys.stderr.isatty()
    try:
        summary = run_scenario(scn, out, force=args.force, quiet=quiet, report=True if args.no_plots else "full")
    except OutputDirError as err:
        print(err, file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"{summary['rounds']} rounds, {summary['clients']} clients: "
        f"{summary['uplink_bytes_total']} uplink bytes, {summary['delivered_total']} uploads delivered, "
        f"{summary['sim_time_s']:.3f} s simulated"
    )
    print(f"report: {out / 'report.md'}" + ("" if args.no_plots else f" and {out / 'report.html'}"))
    return 0
