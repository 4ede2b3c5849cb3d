"""Every algorithm beside its bounds, over seeds, SNRs and Dirichlet alphas; prints the docs/results.md tables.

Same seed = same data split, LoRA init and channel for every row (common
random numbers), so differences are *paired* over seeds.  Figures are the
mean over seeds with a 95 % t interval (n - 1 degrees of freedom); a
difference whose interval holds 0 is not established.

Rows, per alpha:

- ``local_only`` and ``centralised`` (real algorithms, ``workload.algorithm``):
  they use no network, so they are run once per seed and alpha and stand in
  every SNR block;
- ``fedavg_lora``, ``fd_full``, ``fd_topk_zeropad``, ``adaptive_topk`` at each SNR;
- ``adaptive_topk eta=X`` (``--eta``): AdaLD with another share of the budget for logits;
- ``zeropad k=mean k`` (``--equal-k``): fd_topk_zeropad with k set to
  adaptive_topk's mean k at that SNR and seed (about equal bytes);
- ``--ablations``: ``adaptive zeropad-agg`` (adaptive k, zero-padded
  aggregation) and ``adaptive hidden_weight=0`` (no hidden projection).

Columns: final accuracy; paired differences against local_only and against
fd_full; uplink bytes (mean per run) and their ratio to fd_full's on the same
seed; delivered uploads; mean k.

    python benchmarks/compare_algorithms.py [scenario] [--snr 0 10 20] [--seeds 31 32 33] [--alpha 0.1 1.0]
        [--eta 0.3] [--equal-k] [--ablations] [--extras-snr 10] [--jobs 2] [--final-eval-only]
        [--set KEY=VALUE] [--json FILE]

The rows are printed once every run has finished (``--jobs`` runs them side
by side; the figures do not depend on it).  ``--extras-snr`` limits the eta,
equal-k and ablation rows to some SNRs; ``--final-eval-only`` evaluates only
after the last round, which leaves every figure of the tables unchanged.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from scipy import stats

from sim.run import run_scenario
from sim.config.scenario import load_scenario

ALGORITHMS = ("fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk")
BOUNDS = ("local_only", "centralised")
HEADER = (
    "| alpha | SNR [dB] | algorithm | final accuracy [95% CI] | Δ vs local_only, paired [95% CI] "
    "| Δ vs fd_full, paired [95% CI] | uplink [kB] | uplink / fd_full | delivered | mean k |"
)

Run = tuple[dict[str, Any], list[dict[str, str]]]


def ci(xs: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """mean [low, high] with a 95 % t interval; the mean alone for one value."""
    if not xs:
        return "—"
    m = statistics.fmean(xs) * scale
    if len(xs) == 1:
        return f"{m:.{digits}f}"
    half = stats.t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs)) * scale
    return f"{m:.{digits}f} [{m - half:.{digits}f}, {m + half:.{digits}f}]"


def run(scenario: str, overrides: list[str], out: Path) -> Run:
    summary = run_scenario(load_scenario(scenario, overrides), out)
    with open(out / "rounds.csv") as f:
        return summary, list(csv.DictReader(f))


def final_accuracy(rows: list[dict[str, str]]) -> float:
    return float([r for r in rows if r.get("eval_accuracy")][-1]["eval_accuracy"])


def mean_k(rows: list[dict[str, str]]) -> float | None:
    ks = [float(r["mean_k"]) for r in rows if r["mean_k"] not in ("", "nan")]
    return sum(ks) / len(ks) if ks else None


def row(alpha: float, snr: str, name: str, runs: list[Run | None], lower: list[Run | None], full: list[Run | None]) -> str:
    acc, d_low, d_full, up, ratio, ks = [], [], [], [], [], []
    delivered = possible = 0
    for e, lo, fu in zip(runs, lower, full):
        if e is None:
            continue
        summary, rows = e
        a = final_accuracy(rows)
        acc.append(a)
        if lo is not None and name != "local_only":
            d_low.append(a - final_accuracy(lo[1]))
        if fu is not None and name != "fd_full":
            d_full.append(a - final_accuracy(fu[1]))
        up.append(summary["uplink_bytes_total"] / 1e3)
        if fu is not None and fu[0]["uplink_bytes_total"] > 0:
            ratio.append(summary["uplink_bytes_total"] / fu[0]["uplink_bytes_total"])
        k = mean_k(rows)
        if k is not None:
            ks.append(k)
        delivered += summary["delivered_total"]
        possible += summary["rounds"] * summary["clients"]
    if not acc:
        return ""
    ratio_s = "—" if name in BOUNDS or not ratio else f"{statistics.fmean(ratio):.2f}"
    return (
        f"| {alpha:g} | {snr} | `{name}` | {ci(acc)} | {ci(d_low, 100, 1) if d_low else '—'} | "
        f"{ci(d_full, 100, 1) if d_full else '—'} | {statistics.fmean(up):.1f} | {ratio_s} | "
        f"{delivered}/{possible} | {f'{statistics.fmean(ks):.0f}' if ks else '—'} |"
    )


def _run_job(job: tuple[str, list[str], str]) -> Run:
    scenario, overrides, out = job
    return run(scenario, overrides, Path(out))


class Runner:
    """Runs scenario points, one at a time or ``jobs`` side by side (one process each, torch single-threaded)."""

    def __init__(self, scenario: str, tmp: Path, jobs: int) -> None:
        self.scenario, self.tmp = scenario, tmp
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) if jobs > 1 else None
        self.count = 0

    def many(self, points: Sequence[tuple[str, list[str]]]) -> dict[str, Run]:
        """{name: run} for every (name, overrides) point; names are unique output folders."""
        jobs = [(self.scenario, over, str(self.tmp / name)) for name, over in points]
        self.count += len(jobs)
        done = list(self.pool.map(_run_job, jobs)) if self.pool is not None else [_run_job(j) for j in jobs]
        return {name: r for (name, _), r in zip(points, done)}

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat over (default: the scenario's)")
    ap.add_argument("--alpha", type=float, nargs="+", default=None, help="Dirichlet alphas (default: the scenario's)")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=ALGORITHMS)
    ap.add_argument("--eta", type=float, nargs="*", default=[], help="extra adaptive_topk rows at these eta")
    ap.add_argument("--equal-k", action="store_true", help="add fd_topk_zeropad at adaptive_topk's mean k")
    ap.add_argument("--ablations", action="store_true", help="add adaptive_topk with zero-padded aggregation and with hidden_weight 0")
    ap.add_argument("--extras-snr", type=float, nargs="+", default=None,
                    help="SNRs of the --eta, --equal-k and --ablations rows (default: every --snr)")
    ap.add_argument("--jobs", type=int, default=1, help="runs side by side (processes); results do not depend on it")
    ap.add_argument("--final-eval-only", action="store_true",
                    help="evaluate only after the last round (the tables read only the final accuracy)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's summary and rounds here")
    args = ap.parse_args()

    mains: list[tuple[str, list[str]]] = [(a, [f"workload.algorithm={a}"]) for a in args.algorithms]
    extras: list[tuple[str, list[str]]] = [
        (f"adaptive_topk eta={e:g}", ["workload.algorithm=adaptive_topk", f"workload.eta={e}"]) for e in args.eta]
    if args.ablations:
        extras += [
            ("adaptive zeropad-agg", ["workload.algorithm=adaptive_topk", "workload.adaptive_aggregation=zeropad"]),
            ("adaptive hidden_weight=0", ["workload.algorithm=adaptive_topk", "workload.hidden_weight=0"]),
        ]
    extras_snr = set(args.snr if args.extras_snr is None else args.extras_snr)
    seeds: list[int | None] = list(args.seeds) if args.seeds else [None]
    alphas: list[float | None] = list(args.alpha) if args.alpha else [None]
    common = list(args.set)
    if args.final_eval_only:
        common.append(f"workload.eval_every={load_scenario(args.scenario, args.set).rounds}")
    s_over = {seed: [] if seed is None else [f"seed={seed}"] for seed in seeds}
    a_over = {alpha: [] if alpha is None else [f"workload.dirichlet_alpha={alpha}"] for alpha in alphas}

    def configs(snr: float) -> list[tuple[str, list[str]]]:
        return mains + (extras if snr in extras_snr else [])

    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    started = time.perf_counter()
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        runner = Runner(args.scenario, Path(tmp_name), args.jobs)
        try:
            # Every point that depends on nothing, then the equal-k points that need adaptive_topk's mean k.
            points = [(f"{b}|{alpha}|{seed}", [*common, *a_over[alpha], *s_over[seed], f"workload.algorithm={b}"])
                      for alpha in alphas for seed in seeds for b in BOUNDS]
            points += [(f"{name}|{alpha}|{snr}|{seed}", [*common, *a_over[alpha], f"channel.snr_db={snr}", *s_over[seed], *extra])
                       for alpha in alphas for snr in args.snr for seed in seeds for name, extra in configs(snr)]
            done = runner.many(points)
            eqk_points = []
            if args.equal_k:
                for alpha in alphas:
                    for snr in sorted(extras_snr & set(args.snr)):
                        for seed in seeds:
                            last = done.get(f"adaptive_topk|{alpha}|{snr}|{seed}")
                            k = None if last is None else mean_k(last[1])
                            if k is not None:  # adaptive_topk sent nothing: there is no k to match
                                extra = ["workload.algorithm=fd_topk_zeropad", f"workload.k_fixed={max(1, round(k))}"]
                                eqk_points.append((f"zeropad k=mean k|{alpha}|{snr}|{seed}",
                                                   [*common, *a_over[alpha], f"channel.snr_db={snr}", *s_over[seed], *extra]))
            done.update(runner.many(eqk_points))
        finally:
            runner.close()
    names = [n for n, _ in mains] + [n for n, _ in extras] + (["zeropad k=mean k"] if args.equal_k else [])
    for alpha in alphas:
        alpha_shown = alpha if alpha is not None else float(load_scenario(args.scenario, args.set).workload.dirichlet_alpha)
        bounds = {b: [done[f"{b}|{alpha}|{seed}"] for seed in seeds] for b in BOUNDS}
        for b in BOUNDS:
            print(row(alpha_shown, "any (no network)", b, list(bounds[b]), list(bounds["local_only"]), [None] * len(seeds)))
        raw[f"alpha={alpha_shown:g}"] = {"bounds": {b: [{"summary": e[0], "rounds": e[1]} for e in v] for b, v in bounds.items()}}
        for snr in args.snr:
            runs: dict[str, list[Run | None]] = {
                name: [done.get(f"{name}|{alpha}|{snr}|{seed}") for seed in seeds] for name in names}
            runs = {name: v for name, v in runs.items() if any(e is not None for e in v)}
            full = runs.get("fd_full", [None] * len(seeds))
            for name, per_seed in runs.items():
                line = row(alpha_shown, f"{snr:g}", name, per_seed, list(bounds["local_only"]), full)
                if line:
                    print(line)
            raw[f"alpha={alpha_shown:g}"][f"snr={snr:g}"] = {
                name: [None if e is None else {"summary": e[0], "rounds": e[1]} for e in per_seed]
                for name, per_seed in runs.items()
            }
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True))
    print(f"<!-- {runner.count} runs, {args.jobs} side by side: {time.perf_counter() - started:.0f} s -->")


if __name__ == "__main__":
    main()
