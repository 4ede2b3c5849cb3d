"""Engine throughput against a bare SimPy model timed in the same run.

The reference: one SimPy process per client-round with two timeouts (compute,
then upload), each round closed with ``AllOf`` -- the least any
process-per-client model of a synchronous round costs.  Every fedwave figure
is printed as a ratio to it, so runs on a loaded or a different machine stay
comparable.

Network-only scenario: Rayleigh block fading, shadowing, ARQ at a 5% packet
error rate, 200 kbit each way over 100 MHz, deadline 10 s.  Per policy, at
1,000 clients x ``--rounds`` rounds (proportional_fair: ``--pf-rounds``):

- ``sim``: building the engine and running it, with ``round.engine: auto``
  (the closed form; ofdma and proportional_fair walk their re-sharing,
  sim.core.fluid) and with ``events`` (one SimPy process per client);
- ``run``: the whole ``run_scenario`` with its CSV records and report.md;
- for the default policy, the whole ``fedwave run`` command in a fresh process
  (start-up, simulation, records, report with plots and HTML drawn by the
  report worker beside the records), ``fedwave run --no-plots`` (the same
  without the plots and HTML: the rest of the run), the report's share as the
  difference, ``fedwave report`` on the finished folder in a fresh process,
  and the parts timed in one process (the report drawn there: its own cost).

Then scaling in clients at ``--scaling-rounds`` rounds, set-up (placement,
one seeded stream per client and purpose) and rounds timed apart, to
``--max-clients`` (proportional_fair to ``--max-pf-clients``: one convex
solve per start and completion).

The reference is timed again beside each figure (at the same clients x
rounds for the scaling), so a load that changes during the run moves both.
On a shared machine either moves by 2x from one run to the next, so the
``sim`` and ``run`` lines of the closed form are the fastest of ``--repeat``
runs, each followed by a run of the reference (the fastest of those counts);
the ``events`` lines run once against the fastest of ``--ref-repeat``
references; the ``fedwave run`` lines take turns with each other and the
reference, ``--repeat`` times, and the fastest of each counts.

    python benchmarks/bench_engine.py [--rounds 100] [--pf-rounds 10] [--max-clients 100000]
        [--max-pf-clients 10000] [--skip-policies ofdma,...] [--skip-scaling proportional_fair,...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simpy
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.core.engine import Engine  # noqa: E402
from sim.run import run_scenario  # noqa: E402
from sim.config.scenario import Scenario  # noqa: E402

POLICIES = ("fdma_static", "tdma", "ofdma", "proportional_fair")


def scenario_dict(clients: int, rounds: int, sharing: str, engine: str = "auto", bits: int = 200_000) -> dict:
    return {
        "seed": 1,
        "rounds": rounds,
        "clients": {"count": clients, "placement": {"kind": "uniform_disc", "radius_m": 150}},
        "cell": {"bandwidth_mhz": 100},
        "channel": {"fading": {"model": "rayleigh"}, "shadowing": True},
        "medium": {"uplink_sharing": sharing, "downlink_sharing": sharing, "packet_error_rate": 0.05},
        "round": {"deadline_s": 10.0, "engine": engine},
        "workload": {"algorithm": "none", "payload_bits": bits, "downlink_bits": bits},
    }


REF_REPEAT = 3


def reference(clients: int, rounds: int) -> float:
    """The reference [s]: the fastest of REF_REPEAT runs of :func:`bare_simpy`."""
    return min(bare_simpy(clients, rounds) for _ in range(REF_REPEAT))


def bare_simpy(clients: int, rounds: int, seed: int = 1) -> float:
    """Wall time [s] of the reference model: a process per client-round, two timeouts, AllOf per round."""
    rng = np.random.default_rng(seed)
    compute = rng.uniform(0.1, 1.0, (rounds, clients)).tolist()
    upload = rng.uniform(0.1, 1.0, (rounds, clients)).tolist()
    t = time.perf_counter()
    env = simpy.Environment()

    def client(c_s: float, u_s: float):
        yield env.timeout(c_s)
        yield env.timeout(u_s)

    def server():
        for r in range(rounds):
            yield env.all_of([env.process(client(c, u)) for c, u in zip(compute[r], upload[r])])

    env.run(env.process(server()))
    return time.perf_counter() - t


def sim_parts(clients: int, rounds: int, sharing: str, engine: str = "auto",
              bits: int = 200_000) -> tuple[float, float, float]:
    """(set-up, rounds) wall time [s] of building an engine and running it, and the delivered share."""
    import workloads

    scn = Scenario.model_validate(scenario_dict(clients, rounds, sharing, engine, bits))
    t = time.perf_counter()
    eng = Engine(scn, workloads.create("none", scn.workload, clients, scn.seed))
    t1 = time.perf_counter()
    result = eng.run()
    t2 = time.perf_counter()
    return t1 - t, t2 - t1, float(result.client_column("delivered").mean())


def scaled(clients: int, rounds: int, sharing: str) -> tuple[float, float, float]:
    """:func:`sim_parts` at 2e8 / clients bits each way per client."""
    return sim_parts(clients, rounds, sharing, "auto", max(1, 200_000_000 // clients))


def sim_time(clients: int, rounds: int, sharing: str, engine: str = "auto") -> float:
    setup, run, _ = sim_parts(clients, rounds, sharing, engine)
    return setup + run


def run_time(clients: int, rounds: int, sharing: str) -> float:
    scn = Scenario.model_validate(scenario_dict(clients, rounds, sharing))
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        run_scenario(scn, Path(d) / "run")
        return time.perf_counter() - t


def fedwave_run(clients: int, rounds: int, repeat: int = 1) -> dict[str, list[float]]:
    """Wall times [s] in fresh processes, ``repeat`` of each: the whole ``fedwave run`` (start-up, simulation,
    records, report), ``fedwave run --no-plots`` (the same without plots and HTML), ``fedwave report`` on the
    folder, and the reference; the four in turn, ``repeat`` times, so that a slow spell slows all alike."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "scn.yaml"
        path.write_text(yaml.safe_dump(scenario_dict(clients, rounds, "fdma_static")))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        walls: dict[str, list[float]] = {"run": [], "no_plots": [], "report": [], "reference": []}
        for _ in range(repeat):
            for name, cmd in (("run", ["run", str(path), "--out", str(Path(d) / "run")]),
                              ("no_plots", ["run", str(path), "--out", str(Path(d) / "bare"), "--no-plots"]),
                              ("report", ["report", str(Path(d) / "run")])):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "sim", *cmd, *(["--force"] if name != "report" else [])],
                               check=True, env=env, stdout=subprocess.DEVNULL)
                walls[name].append(time.perf_counter() - t)
            walls["reference"].append(bare_simpy(clients, rounds))
        return walls


def phases(clients: int, rounds: int) -> dict[str, float]:
    """The parts of a ``fedwave run`` [s]: simulation, records (CSV + JSON), report (markdown, plots, HTML)."""
    import workloads
    from sim.store.records import write_clients_csv, write_json, write_positions_csv, write_rounds_csv
    from sim.run import summarize
    from sim.report.run import run_data, write_run_report

    scn = Scenario.model_validate(scenario_dict(clients, rounds, "fdma_static"))
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        t0 = time.perf_counter()
        engine = Engine(scn, workloads.create("none", scn.workload, clients, scn.seed))
        result = engine.run()
        t1 = time.perf_counter()
        summary = summarize(scn, result, t1 - t0)
        write_rounds_csv(out / "rounds.csv", result)
        write_clients_csv(out / "clients.csv", result)
        write_json(out / "summary.json", summary)
        write_positions_csv(out / "positions.csv", engine.radio.drop)
        t2 = time.perf_counter()
        write_run_report(out, run_data(scn, result, summary, engine.radio.drop))
        t3 = time.perf_counter()
    return {"simulation": t1 - t0, "records": t2 - t1, "report": t3 - t2}


def paired(timed: Callable[[], float], rounds: int, repeat: int) -> tuple[float, float]:
    """(fastest of ``repeat`` runs of ``timed``, fastest reference), the two alternating: on a shared machine a
    slow spell then slows both sides alike."""
    walls, refs = [], []
    for _ in range(repeat):
        walls.append(timed())
        refs.append(bare_simpy(1000, rounds))
    return min(walls), min(refs)


def line(label: str, clients: int, rounds: int, wall: float, ref: float) -> None:
    us = wall / (clients * rounds) * 1e6
    print(f"{label:<36} {clients:>8} {rounds:>6} {wall:>9.3f} {us:>10.2f} {wall / ref:>9.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--scaling-rounds", type=int, default=5)
    ap.add_argument("--pf-rounds", type=int, default=10, help="rounds of the proportional_fair lines")
    ap.add_argument("--max-clients", type=int, default=100_000)
    ap.add_argument("--max-pf-clients", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each fast-path and fedwave command line, alternating with the reference (the fastest counts)")
    ap.add_argument("--ref-repeat", type=int, default=3, help="runs of the reference per figure (the fastest counts)")
    ap.add_argument("--skip-policies", default="", help="comma-separated policies left out of the 1,000-client table")
    ap.add_argument("--skip-commands", action="store_true", help="leave out the fedwave run / report lines")
    ap.add_argument("--skip-scaling", default="", help="comma-separated policies left out of the scaling table")
    args = ap.parse_args()
    global REF_REPEAT
    REF_REPEAT = args.ref_repeat
    rounds = args.rounds
    skip = {p for p in args.skip_policies.split(",") if p}
    skip_scaling = {p for p in args.skip_scaling.split(",") if p}
    sim_time(50, 2, "fdma_static")  # warm imports and caches
    ref = reference(1000, rounds)
    print(f"bare SimPy reference, 1,000 clients x {rounds} rounds: {ref:.3f} s "
          f"({ref / (1000 * rounds) * 1e6:.2f} us per client-round); x SimPy below: against a fresh one\n")
    print(f"{'what':<36} {'clients':>8} {'rounds':>6} {'wall [s]':>9} {'us/c-r':>10} {'x SimPy':>9}")
    for sharing in POLICIES:
        if sharing in skip:
            continue
        r = args.pf_rounds if sharing == "proportional_fair" else rounds
        line(f"sim {sharing}", 1000, r, *paired(lambda: sim_time(1000, r, sharing), r, args.repeat))
        line(f"sim {sharing} (round.engine events)", 1000, r, sim_time(1000, r, sharing, "events"), reference(1000, r))
        line(f"run_scenario {sharing}", 1000, r, *paired(lambda: run_time(1000, r, sharing), r, args.repeat))
    if not args.skip_commands:
        commands(rounds, args.repeat)
    scaling(args, skip_scaling)


def commands(rounds: int, repeat: int) -> None:
    walls = fedwave_run(1000, rounds, repeat)
    proc = {name: min(w) for name, w in walls.items()}
    ref = proc["reference"]
    line("fedwave run fdma_static (process)", 1000, rounds, proc["run"], ref)
    line("fedwave run --no-plots (process)", 1000, rounds, proc["no_plots"], ref)
    line("  the report's share (difference)", 1000, rounds, proc["run"] - proc["no_plots"], ref)
    line("fedwave report on its folder (process)", 1000, rounds, proc["report"], ref)
    parts = phases(1000, rounds)
    for name, wall in parts.items():
        line(f"  in one process: {name}", 1000, rounds, wall, ref)
    # The fastest of each may come from different spells of the machine; each turn's run and --no-plots ran
    # back to back, so the median of the turns' own ratios is the steadier figure.
    turns = [(r - b) / b for r, b in zip(walls["run"], walls["no_plots"])]
    print(f"  report / rest of fedwave run: {(proc['run'] - proc['no_plots']) / proc['no_plots']:.2f} from the "
          f"fastest of each, {float(np.median(turns)):.2f} the median of the {len(turns)} turns' own "
          f"({', '.join(f'{t:.2f}' for t in turns)}); its own cost, drawn in one process: report / (simulation + "
          f"records) {parts['report'] / (parts['simulation'] + parts['records']):.2f}")


def scaling(args: argparse.Namespace, skip_scaling: set[str]) -> None:
    r = args.scaling_rounds
    # The cell's offered load held: 200 kbit each way per client at 1,000 clients, 2 kbit at 100,000
    # (with 200 kbit each, 100,000 clients' downloads alone need 40 s of a 100 MHz cell: every one is cut).
    print(f"\nscaling in clients, {r} rounds, 2e8 / clients bits each way per client: set-up [s], "
          "rounds [us per client-round], x SimPy of the rounds, delivered share")
    print(f"{'policy':<18} {'clients':>8} {'set-up [s]':>11} {'us/c-r':>9} {'x SimPy':>9} {'x10 clients':>12} {'delivered':>9}")
    for sharing in (p for p in POLICIES if p not in skip_scaling):
        last = None
        for n in (1000, 10_000, 100_000):
            if n > args.max_clients or (sharing == "proportional_fair" and n > args.max_pf_clients):
                continue
            setup, run, delivered = scaled(n, r, sharing)
            ref_n = reference(n, r)
            per = run / (n * r)
            growth = "" if last is None else f"x{per / last:.2f}"
            print(f"{sharing:<18} {n:>8} {setup:>11.3f} {per * 1e6:>9.2f} {run / ref_n:>9.3f} {growth:>12} {delivered:>9.3f}")
            last = per


if __name__ == "__main__":
    main()
