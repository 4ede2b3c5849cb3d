"""Every algorithm beside its bounds, over seeds, SNRs and Dirichlet alphas; prints the docs/results.md tables.

Same seed = same data split, LoRA init and channel for every row (common
random numbers), so differences are *paired* over seeds.  Figures are the
mean over seeds with a 95 % t interval (n - 1 degrees of freedom); a
difference whose interval holds 0 is not established.

Rows, per alpha:

- ``local_only`` and ``centralised`` (real algorithms, ``workload.algorithm``):
  they use no network, so they are run once per seed and alpha and stand in
  every SNR block;
- ``fedavg_lora``, ``fd_full``, ``fd_topk_zeropad``, ``adaptive_topk`` at each SNR
  (``--algorithms`` takes any registered language-model algorithm: ``fedsoda``,
  ``fedbiot`` and ``flexlora`` too);
- ``adaptive_topk eta=X`` (``--eta``): AdaLD with another share of the budget for logits;
- ``zeropad k=mean k`` (``--equal-k``): fd_topk_zeropad with k set to
  adaptive_topk's mean k at that SNR and seed (its fixed-width indices make
  that more bytes than adaptive_topk's upload, and a fixed k does not shrink
  on a poor link);
- ``zeropad equal bytes`` (``--equal-bytes``): fd_topk_zeropad with the
  largest k whose encoded upload is no larger than adaptive_topk's mean upload
  (hidden projection included) at that SNR and seed, from ``payload.topk_bits``;
- ``--ablations``: ``adaptive zeropad-agg`` (adaptive k, zero-padded
  aggregation) and ``adaptive hidden_weight=0`` (no hidden projection).

Columns: final accuracy; paired differences against local_only and against
fd_full; uplink and downlink bytes (mean per run), the uplink's ratio to
fd_full's on the same seed; each client's stored model (``client_storage_bytes``,
mean over clients and seeds); delivered uploads; mean k.  ``--versus REF``
adds a table of every algorithm against REF on the same seeds: the paired
accuracy difference and the paired relative change of uplink bytes and of
client storage, each with its 95 % interval.

A ``--set workload.KEY=...`` of one algorithm's own key goes only to the rows
whose algorithm takes it, and the algorithms that place their own adapters
(fedsoda, fedbiot) run without the scenario's ``lora_layers``.

    python benchmarks/compare_algorithms.py [scenario] [--snr 0 10 20] [--seeds 31 32 33] [--alpha 0.1 1.0]
        [--eta 0.3] [--equal-k] [--equal-bytes] [--ablations] [--extras-snr 10] [--jobs 2] [--final-eval-only]
        [--algorithms ...] [--versus fedavg_lora] [--set KEY=VALUE] [--json FILE]

The rows are printed once every run has finished (``--jobs`` runs them side
by side; the figures do not depend on it).  ``--extras-snr`` limits the eta,
equal-k, equal-bytes and ablation rows to some SNRs; ``--final-eval-only`` evaluates only
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
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from scipy import stats

from sim.run import run_scenario
from sim.config.scenario import ScenarioError, load_scenario
from workloads.base import available, config_class
from workloads.config import LMConfig, model_shapes
from workloads.payload import topk_bits

ALGORITHMS = ("fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk")
BOUNDS = ("local_only", "centralised")
HEADER = (
    "| alpha | SNR [dB] | algorithm | final accuracy [95% CI] | Δ vs local_only, paired [95% CI] "
    "| Δ vs fd_full, paired [95% CI] | uplink [kB] | uplink / fd_full | downlink [kB] | client storage [kB] "
    "| delivered | mean k |"
)

# (summary.json, rounds.csv rows, clients.csv rows) of one run.
Run = tuple[dict[str, Any], list[dict[str, str]], list[dict[str, str]]]


def lm_algorithms() -> list[str]:
    """The registered language-model algorithms a row can run (the bounds are rows of their own)."""
    return [a for a in available() if a not in BOUNDS and issubclass(config_class(a), LMConfig)]


def sets_for(algorithm: str, sets: Sequence[str]) -> list[str]:
    """The overrides of ``sets`` for a run of ``algorithm``.

    Another algorithm's own workload keys are left out (``eta`` is
    adaptive_topk's), and an algorithm that places its own adapters (fedsoda,
    fedbiot) gets ``lora_layers: null``, which the scenario may set for the others.
    """
    from sim.config.schema import workload_configs

    cls = config_class(algorithm)
    takes = cls.model_fields
    owned = {k for c in workload_configs().values() for k in c.model_fields} - set(LMConfig.model_fields)
    out = [text for text in sets
           if not (text.startswith("workload.") and (name := text.partition("=")[0].strip()[9:]) in owned and name not in takes)]
    if getattr(cls, "places_own_adapters", False):
        out.append("workload.lora_layers=null")
    return out


def ci(xs: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """mean [low, high] with a 95 % t interval; the mean alone for one value."""
    if not xs:
        return "—"
    m = statistics.fmean(xs) * scale
    if len(xs) == 1:
        return f"{m:.{digits}f}"
    half = stats.t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs)) * scale
    return f"{m:.{digits}f} [{m - half:.{digits}f}, {m + half:.{digits}f}]"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def run(scenario: str, overrides: list[str], out: Path) -> Run:
    # The tables read the records only: no report (its figures cost seconds a run).
    summary = run_scenario(load_scenario(scenario, overrides), out, report=False)
    return summary, _csv(out / "rounds.csv"), _csv(out / "clients.csv")


def storage_kb(clients: list[dict[str, str]]) -> list[float]:
    """Each client's stored model [kB] (``client_storage_bytes``; empty for a run that records none)."""
    return [int(c["client_storage_bytes"]) / 1e3 for c in clients if c.get("client_storage_bytes")]


def final_accuracy(rows: list[dict[str, str]]) -> float:
    return float([r for r in rows if r.get("eval_accuracy")][-1]["eval_accuracy"])


def mean_k(rows: list[dict[str, str]]) -> float | None:
    ks = [float(r["mean_k"]) for r in rows if r["mean_k"] not in ("", "nan")]
    return sum(ks) / len(ks) if ks else None


def row(alpha: float, snr: str, name: str, runs: list[Run | None], lower: list[Run | None], full: list[Run | None]) -> str:
    acc, d_low, d_full, up, down, store, ratio, ks = [], [], [], [], [], [], [], []
    delivered = possible = 0
    for e, lo, fu in zip(runs, lower, full):
        if e is None:
            continue
        summary, rows, clients = e
        a = final_accuracy(rows)
        acc.append(a)
        if lo is not None and name != "local_only":
            d_low.append(a - final_accuracy(lo[1]))
        if fu is not None and name != "fd_full":
            d_full.append(a - final_accuracy(fu[1]))
        up.append(summary["uplink_bytes_total"] / 1e3)
        down.append(summary["downlink_bytes_total"] / 1e3)
        store += storage_kb(clients)
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
        f"{statistics.fmean(down):.1f} | {f'{statistics.fmean(store):.1f}' if store else '—'} | {delivered}/{possible} | {f'{statistics.fmean(ks):.0f}' if ks else '—'} |"
    )


def _run_job(job: tuple[str, list[str], str]) -> tuple[Run, float]:
    scenario, overrides, out = job
    started = time.perf_counter()
    result = run(scenario, overrides, Path(out))
    return result, time.perf_counter() - started


class Runner:
    """Runs scenario points, one at a time or ``jobs`` side by side (one process each, torch single-threaded).

    Each finished run is logged to stderr (name, final accuracy, wall time); the tables go to stdout at the end.
    """

    def __init__(self, scenario: str, tmp: Path, jobs: int) -> None:
        self.scenario, self.tmp = scenario, tmp
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) if jobs > 1 else None
        self.count = 0

    def many(self, points: Sequence[tuple[str, list[str]]]) -> dict[str, Run]:
        """{name: run} for every (name, overrides) point; names are unique output folders."""
        jobs = [(self.scenario, over, str(self.tmp / name.replace(" ", "_"))) for name, over in points]
        done: dict[str, Run] = {}

        def log(name: str, result: Run, wall: float) -> None:
            self.count += 1
            done[name] = result
            summary, _, clients = result
            store = storage_kb(clients)
            print(f"[{len(done)}/{len(jobs)}] {name}: final accuracy {final_accuracy(result[1]):.3f}, uplink "
                  f"{summary['uplink_bytes_total'] / 1e3:.1f} kB, delivered {summary['delivered_total']}, client storage "
                  f"{statistics.fmean(store) if store else 0:.1f} kB, {wall:.0f} s", file=sys.stderr, flush=True)

        if self.pool is None:
            for (name, _), job in zip(points, jobs):
                log(name, *_run_job(job))
        else:
            futures = {self.pool.submit(_run_job, job): name for (name, _), job in zip(points, jobs)}
            for future in as_completed(futures):
                log(futures[future], *future.result())
        return done

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def equal_bytes_k(workload: Any, clients: list[dict[str, str]]) -> int | None:
    """The largest k whose fd_topk_zeropad upload (fixed-width indices) is no larger than the mean of ``clients``' uploads.

    ``workload``: the fd_topk_zeropad run's workload config; ``clients``: the
    adaptive_topk run's clients.csv rows.  None when that run sent nothing.
    """
    sent = [int(c["payload_bits"]) for c in clients if c.get("payload_bits") and int(c["payload_bits"]) > 0]
    if not sent:
        return None
    target = statistics.fmean(sent)
    vocab = model_shapes(workload)[0][4]
    positions = workload.public_size * workload.distill_positions

    def bits(k: int) -> int:  # + the two 4-byte length prefixes of the logits and (empty) hidden parts
        return topk_bits(vocab, positions, k, workload.value_precision, "fixed") + 64

    if bits(vocab) <= target:  # dense needs no indices: it is the largest and, near V, the smallest
        return vocab
    lo, hi = 1, vocab - 1  # bits(k) grows with k below V
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if bits(mid) <= target else (lo, mid - 1)
    return lo


def versus(alpha: float, snr: str, name: str, ref: str, runs: list[Run | None], base: list[Run | None]) -> str:
    """One row of ``name`` against ``ref`` on the same seeds: paired accuracy difference, relative uplink and storage change."""
    d_acc, d_up, d_store = [], [], []
    for e, b in zip(runs, base):
        if e is None or b is None:
            continue
        d_acc.append(final_accuracy(e[1]) - final_accuracy(b[1]))
        if b[0]["uplink_bytes_total"] > 0:
            d_up.append(e[0]["uplink_bytes_total"] / b[0]["uplink_bytes_total"] - 1)
        mine, theirs = storage_kb(e[2]), storage_kb(b[2])
        if mine and theirs:
            d_store.append(statistics.fmean(mine) / statistics.fmean(theirs) - 1)
    if not d_acc:
        return ""
    return (f"| {alpha:g} | {snr} | `{name}` | {ci(d_acc, 100, 1)} | {ci(d_up, 100, 1) if d_up else '—'} | "
            f"{ci(d_store, 100, 1) if d_store else '—'} | {len(d_acc)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", nargs="?", default="scenarios/compare_tiny.yaml")
    ap.add_argument("--snr", type=float, nargs="+", default=[0.0, 10.0, 20.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to repeat over (default: the scenario's)")
    ap.add_argument("--alpha", type=float, nargs="+", default=None, help="Dirichlet alphas (default: the scenario's)")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS), choices=lm_algorithms(),
                    help=f"algorithm rows at every SNR (default: {' '.join(ALGORITHMS)})")
    ap.add_argument("--eta", type=float, nargs="*", default=[], help="extra adaptive_topk rows at these eta")
    ap.add_argument("--equal-k", action="store_true", help="add fd_topk_zeropad at adaptive_topk's mean k")
    ap.add_argument("--equal-bytes", action="store_true", help="add fd_topk_zeropad at adaptive_topk's mean upload size")
    ap.add_argument("--ablations", action="store_true", help="add adaptive_topk with zero-padded aggregation and with hidden_weight 0")
    ap.add_argument("--extras-snr", type=float, nargs="+", default=None,
                    help="SNRs of the --eta, --equal-k and --ablations rows (default: every --snr)")
    ap.add_argument("--jobs", type=int, default=1, help="runs side by side (processes); results do not depend on it")
    ap.add_argument("--final-eval-only", action="store_true",
                    help="evaluate only after the last round (the tables read only the final accuracy)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--versus", default=None, metavar="REF",
                    help="also print every algorithm against REF (one of --algorithms) on the same seeds: "
                    "accuracy difference, uplink and client storage change")
    ap.add_argument("--json", type=Path, default=None, help="also write every run's summary and rounds here")
    args = ap.parse_args()
    if args.versus is not None and args.versus not in args.algorithms:
        ap.error(f"--versus {args.versus}: not one of --algorithms ({' '.join(args.algorithms)})")

    mains: list[tuple[str, list[str]]] = [(a, [f"workload.algorithm={a}"]) for a in args.algorithms]
    extras: list[tuple[str, list[str]]] = [
        (f"adaptive_topk eta={e:g}", ["workload.algorithm=adaptive_topk", f"workload.eta={e}"]) for e in args.eta]
    if args.ablations:
        extras += [
            ("adaptive zeropad-agg", ["workload.algorithm=adaptive_topk", "workload.adaptive_aggregation=zeropad"]),
            ("adaptive hidden_weight=0", ["workload.algorithm=adaptive_topk", "workload.hidden_weight=0"]),
        ]
    try:  # the scenario as its own algorithm reads it, with the overrides that algorithm takes
        base = load_scenario(args.scenario, sets_for(load_scenario(args.scenario).workload.algorithm, args.set))
    except ScenarioError as e:
        ap.error(str(e))
    extras_snr = set(args.snr if args.extras_snr is None else args.extras_snr)
    seeds: list[int | None] = list(args.seeds) if args.seeds else [None]
    alphas: list[float | None] = list(args.alpha) if args.alpha else [None]
    common = list(args.set)
    if args.final_eval_only:
        common.append(f"workload.eval_every={base.rounds}")
    s_over = {seed: [] if seed is None else [f"seed={seed}"] for seed in seeds}
    a_over = {alpha: [] if alpha is None else [f"workload.dirichlet_alpha={alpha}"] for alpha in alphas}

    def configs(snr: float) -> list[tuple[str, list[str]]]:
        return mains + (extras if snr in extras_snr else [])

    def algorithm_of(extra: list[str]) -> str:
        return next(e.partition("=")[2] for e in extra if e.startswith("workload.algorithm="))

    print(HEADER)
    print("|---" * (HEADER.count("|") - 1) + "|", flush=True)
    started = time.perf_counter()
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        runner = Runner(args.scenario, Path(tmp_name), args.jobs)
        try:
            # Every point that depends on nothing, then the equal-k points that need adaptive_topk's mean k.
            points = [(f"{b}|{alpha}|{seed}", [*sets_for(b, common), *a_over[alpha], *s_over[seed], f"workload.algorithm={b}"])
                      for alpha in alphas for seed in seeds for b in BOUNDS]
            points += [(f"{name}|{alpha}|{snr}|{seed}",
                        [*sets_for(algorithm_of(extra), common), *a_over[alpha], f"channel.snr_db={snr}", *s_over[seed], *extra])
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
                                                   [*sets_for("fd_topk_zeropad", common), *a_over[alpha], f"channel.snr_db={snr}", *s_over[seed], *extra]))
            if args.equal_bytes:
                for alpha in alphas:
                    for snr in sorted(extras_snr & set(args.snr)):
                        for seed in seeds:
                            last = done.get(f"adaptive_topk|{alpha}|{snr}|{seed}")
                            over = [*sets_for("fd_topk_zeropad", common), *a_over[alpha], f"channel.snr_db={snr}", *s_over[seed],
                                    "workload.algorithm=fd_topk_zeropad"]
                            k = None if last is None else equal_bytes_k(load_scenario(args.scenario, over).workload, last[2])
                            if k is not None:
                                eqk_points.append((f"zeropad equal bytes|{alpha}|{snr}|{seed}", [*over, f"workload.k_fixed={k}"]))
            done.update(runner.many(eqk_points))
        finally:
            runner.close()
    names = ([n for n, _ in mains] + [n for n, _ in extras] + (["zeropad k=mean k"] if args.equal_k else [])
             + (["zeropad equal bytes"] if args.equal_bytes else []))
    for alpha in alphas:
        alpha_shown = alpha if alpha is not None else float(base.workload.dirichlet_alpha)
        bounds = {b: [done[f"{b}|{alpha}|{seed}"] for seed in seeds] for b in BOUNDS}
        for b in BOUNDS:
            print(row(alpha_shown, "any (no network)", b, list(bounds[b]), list(bounds["local_only"]), [None] * len(seeds)))
        raw[f"alpha={alpha_shown:g}"] = {"bounds": {b: [{"summary": e[0], "rounds": e[1], "clients": e[2]} for e in v] for b, v in bounds.items()}}
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
                name: [None if e is None else {"summary": e[0], "rounds": e[1], "clients": e[2]} for e in per_seed]
                for name, per_seed in runs.items()
            }
    if args.versus is not None:
        ref = args.versus
        print()
        print(f"| alpha | SNR [dB] | algorithm | Δ accuracy vs {ref}, paired [95% CI] [points] "
              f"| uplink change vs {ref}, paired [95% CI] [%] | client storage change vs {ref}, paired [95% CI] [%] | seeds |")
        print("|---" * 7 + "|")
        for alpha in alphas:
            alpha_shown = alpha if alpha is not None else float(base.workload.dirichlet_alpha)
            for snr in args.snr:
                base = [done.get(f"{ref}|{alpha}|{snr}|{seed}") for seed in seeds]
                for name in names:
                    if name != ref:
                        line = versus(alpha_shown, f"{snr:g}", name, ref, [done.get(f"{name}|{alpha}|{snr}|{seed}") for seed in seeds], base)
                        if line:
                            print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True))
    print(f"<!-- {runner.count} runs, {args.jobs} side by side: {time.perf_counter() - started:.0f} s -->")


if __name__ == "__main__":
    main()
