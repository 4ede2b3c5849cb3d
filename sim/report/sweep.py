"""The report of a sweep folder: what each setting costs, savings, Pareto front, every point.

With an accuracy metric (``final_eval_accuracy``) costs are measured to a
target accuracy; a network-only sweep has none, so its report shows totals
and the delivery ratio instead.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.report.html import markdown_to_html
from sim.report.plots import COLORS, bytes_axis, log_if_wide, new_figure, to_png
from sim.store.records import atomic_write
from sim.report.summary import _fmt_bytes, _table
from sim.store.results import is_sweep_folder, read_results
from sim.sweep.analysis import CENTRALISED, REFERENCES, Saving, cost_to_target, pareto_front, series, swept_params
from sim.sweep.significance import (
    accuracy_section,
    comparisons_csv,
    over_seeds_section,
    savings_section,
    seed_summary_csv,
)

__all__ = ["is_sweep_folder", "write_sweep_report", "DEFAULT_TARGET_SHARE"]

# Without --target-accuracy, the target is this share of the best final accuracy in the sweep.
DEFAULT_TARGET_SHARE = 0.9

_ACC = "final_eval_accuracy"


def _add_costs_to_target(folder: Path, rows: list[dict[str, Any]], target: float) -> None:
    for r in rows:
        if r["status"] != "ok":
            continue
        with open(folder / "runs" / str(r["point_id"]) / "rounds.csv", newline="") as f:
            rounds = [{k: (float(v) if v else None) for k, v in row.items()} for row in csv.DictReader(f)]
        cost = cost_to_target(rounds, target)
        r["target_rounds"] = cost.rounds if cost else None
        r["target_uplink_bytes"] = cost.uplink_bytes if cost else None
        r["target_airtime_s"] = cost.airtime_s if cost else None
        r["target_energy_j"] = cost.energy_j if cost else None


def _numeric_params(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for p in swept_params(rows):
        values = {r.get(p) for r in rows}
        if p != "seed" and len(values) > 1 and all(isinstance(v, (int, float)) for v in values):
            out.append(p)
    return out


def _panel(ax: Any, rows: Sequence[Mapping[str, Any]], x: str, y: str, ylabel: str, is_bytes: bool) -> None:
    lines = series(rows, x, y)
    algs = sorted({s.algorithm for s in lines})
    for j, s in enumerate(lines):
        color = COLORS[algs.index(s.algorithm) % len(COLORS)] if len(algs) > 1 else COLORS[j % len(COLORS)]
        ax.plot(s.x, s.y, "o-", color=color, label=s.label)
        if np.any(s.y_high > s.y_low):
            ax.fill_between(s.x, s.y_low, s.y_high, color=color, alpha=0.15, lw=0)
    ax.set_xlabel(_axis_name(x))
    ax.set_ylabel(ylabel)
    if is_bytes:
        log_if_wide(ax, [v for s in lines for v in s.y], "y")
        bytes_axis(ax, "y")
    else:
        log_if_wide(ax, [v for s in lines for v in s.y], "y", decades=2.0)
    if lines:
        ax.legend(title="algorithm", fontsize=8, title_fontsize=8)
    else:
        ax.text(0.5, 0.5, "no point reached it", transform=ax.transAxes, ha="center", va="center")


def _axis_name(param: str) -> str:
    names = {"channel.snr_db": "mean SNR [dB]", "clients.count": "clients", "cell.bandwidth_mhz": "bandwidth [MHz]",
             "round.deadline_s": "round deadline [s]"}
    return names.get(param, param)


def _vs_figure(rows: Sequence[Mapping[str, Any]], x: str, target: float | None) -> tuple[str, str, bytes]:
    if target is not None:
        panels = [("target_uplink_bytes", "uplink payload to target", True),
                  ("target_airtime_s", "uplink airtime to target [s]", False),
                  ("target_energy_j", "client energy to target [J]", False)]
        fig, axes = new_figure(3, width_in=4.2, height_in=3.4)
        caption = f"Cost to reach accuracy {target:g} against {_axis_name(x)} (95% interval over seeds shaded)"
    else:
        panels = [("delivery_ratio", "delivery ratio (uploads arrived)", False),
                  ("uplink_bytes_total", "uplink payload sent", True),
                  ("airtime_s_total", "uplink airtime, all clients [s]", False),
                  ("energy_j_total", "client energy, all clients [J]", False)]
        fig, axes = new_figure(2, width_in=4.8, height_in=3.3, nrows=2)
        caption = f"Delivery ratio, uplink bytes, airtime and energy against {_axis_name(x)} (95% interval over seeds shaded)"
    for ax, (col, label, is_bytes) in zip(np.ravel(axes), panels):
        _panel(ax, rows, x, col, label, is_bytes)
        if col == "delivery_ratio":
            ax.set_ylim(-0.02, 1.05)
    fig.suptitle(caption, fontsize=11)
    return f"vs_{x.replace('.', '_')}.png", caption, to_png(fig)


def _front_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The finished points that may be on the front: centralised is a bound no client setting can reach."""
    return [r for r in rows if r["status"] == "ok" and r["algorithm"] != CENTRALISED]


def _pareto_figure(rows: Sequence[Mapping[str, Any]], has_acc: bool) -> tuple[str, str, bytes, list[int]]:
    ok = _front_rows(rows)
    cost_col, benefit_col = ("uplink_bytes_total", _ACC) if has_acc else ("energy_j_total", "delivery_ratio")
    cost = [float(r[cost_col]) if r.get(cost_col) is not None else np.nan for r in ok]
    benefit = [float(r[benefit_col]) if r.get(benefit_col) is not None else np.nan for r in ok]
    front = pareto_front(cost, benefit)
    fig, ax = new_figure(width_in=6.4, height_in=4.0)
    algs = sorted({str(r["algorithm"]) for r in ok})
    for j, alg in enumerate(algs):
        idx = [i for i, r in enumerate(ok) if r["algorithm"] == alg]
        ax.scatter([cost[i] for i in idx], [benefit[i] for i in idx], color=COLORS[j % len(COLORS)], s=22,
                   alpha=0.8, label=alg)
    ax.step([cost[i] for i in front], [benefit[i] for i in front], where="post", color="k", lw=1.2,
            label="Pareto front")
    log_if_wide(ax, cost, "x")
    if has_acc:
        bytes_axis(ax, "x")
        ax.set_xlabel("uplink payload, whole run")
        ax.set_ylabel("final accuracy")
        caption = "Pareto front: final accuracy against uplink bytes"
    else:
        ax.set_xlabel("client energy, whole run [J]")
        ax.set_ylabel("delivery ratio")
        caption = "Pareto front: delivery ratio against client energy (network-only sweep: no accuracy)"
    ax.legend(fontsize=8)
    ax.set_title(caption, fontsize=10)
    return "pareto.png", caption, to_png(fig), front


_HEADERS = {
    "delivery_ratio": "delivery ratio",
    "mean_snr_db": "mean SNR [dB]",
    "uplink_bytes_total": "uplink",
    "airtime_s_total": "airtime [s]",
    "energy_j_total": "energy [J]",
    "target_rounds": "rounds to target",
    "target_uplink_bytes": "uplink to target",
    "final_eval_accuracy": "final accuracy",
}


def _fmt(v: Any, col: str) -> str:
    if v is None:
        return ""
    if "bytes" in col:
        return _fmt_bytes(float(v))
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_sweep_report(folder: Path, target_accuracy: float | None = None, baseline: str | None = None) -> Path:
    """(Re)write ``report.md``, ``plots/*.png`` and ``report.html`` of a sweep folder; returns the HTML path."""
    rows = read_results(folder / "results.csv")
    base = yaml.safe_load((folder / "sweep.yaml").read_text())
    params = swept_params(rows)
    ok = [r for r in rows if r["status"] == "ok"]
    has_acc = any(r.get(_ACC) is not None for r in ok)
    target = None
    if has_acc:
        # centralised is an upper bound, not a competitor: the default target is set by the others.
        finals = [float(r[_ACC]) for r in ok if r.get(_ACC) is not None and r["algorithm"] != CENTRALISED]
        best = max(finals or [float(r[_ACC]) for r in ok if r.get(_ACC) is not None])
        target = target_accuracy if target_accuracy is not None else round(DEFAULT_TARGET_SHARE * best, 4)
        _add_costs_to_target(folder, rows, target)
    algs = sorted({str(r["algorithm"]) for r in ok})
    if baseline is None:
        # The first algorithm of the sweep that is not a reference bound.
        competitors = [str(r["algorithm"]) for r in ok if r["algorithm"] not in REFERENCES]
        baseline = competitors[0] if competitors else (str(ok[0]["algorithm"]) if ok else None)

    md = [f"# fedwave sweep: {len(rows)} points, {len(ok)} finished", ""]
    swept = "; ".join(f"`{p}` in {{{', '.join(sorted({str(r.get(p)) for r in rows}, key=_natural))}}}" for p in params)
    md += [f"Base scenario in `sweep.yaml` (seed {base.get('seed')}, {base.get('rounds')} rounds). Swept: {swept}.", ""]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        md += [f"{len(failed)} point(s) failed; their errors are in the table below and in `runs/<id>/error.json`.", ""]
    if has_acc:
        md += [f"Target accuracy: {target:g}" + ("" if target_accuracy is not None else
               f" ({DEFAULT_TARGET_SHARE:.0%} of the best final accuracy outside {CENTRALISED}; set it with "
               "`--target-accuracy`)") + ".", ""]
    else:
        md += ["Network-only sweep (no accuracy): costs are whole-run totals, with the share of uploads that "
               "arrived before the deadline (delivery ratio).", ""]
    images: dict[str, bytes] = {}

    def add(name: str, caption: str, png: bytes) -> None:
        images[f"plots/{name}"] = png
        md.extend([f"![{caption}](plots/{name})", ""])

    for x in _numeric_params(rows):
        md += [f"## Against {_axis_name(x)}", ""]
        add(*_vs_figure(rows, x, target))
    if ok:
        md += over_seeds_section(rows, has_acc)
    if has_acc and len(algs) > 1:
        md += accuracy_section(rows, baseline)
    table: list[Saving] = []
    if len(algs) > 1 and baseline is not None:
        section, table = savings_section(rows, baseline, has_acc, target)
        md += section
    elif algs:
        md += [f"One algorithm in this sweep ({algs[0]}): no savings to compare.", ""]
    if ok:
        md += ["## Pareto front", ""]
        name, caption, png, front = _pareto_figure(rows, has_acc)
        on_front = _front_rows(rows)
        add(name, caption, png)
        cost_col, benefit_col = ("uplink_bytes_total", _ACC) if has_acc else ("energy_j_total", "delivery_ratio")
        md += ["Points on the front, cheapest first" + (f" ({CENTRALISED}, an upper bound without a network, is left "
               "out)" if any(r["algorithm"] == CENTRALISED for r in ok) else "") + ":", ""]
        front_alg = [] if "workload.algorithm" in params else ["algorithm"]
        md += [_table(["point", *params, *front_alg, _HEADERS.get(cost_col, cost_col), _HEADERS.get(benefit_col, benefit_col)],
                      [[f"`{on_front[i]['point_id']}`", *(_fmt(on_front[i].get(p), p) for p in params),
                        *(on_front[i][c] for c in front_alg), _fmt(on_front[i].get(cost_col), cost_col),
                        _fmt(on_front[i].get(benefit_col), benefit_col)] for i in front]), ""]
    alg_col = [] if "workload.algorithm" in params else ["algorithm"]
    show = ["delivery_ratio", "mean_snr_db", "uplink_bytes_total", "airtime_s_total", "energy_j_total"]
    show += sorted({k for r in ok for k in r if k.startswith("final_") and r[k] is not None})
    if has_acc:
        show += ["target_rounds", "target_uplink_bytes"]
    md += ["## Every point", ""]
    md += [_table(["point", "status", *params, *alg_col, *(_HEADERS.get(c, c) for c in show), "error"],
                  [[f"`{r['point_id']}`", r["status"], *(_fmt(r.get(p), p) for p in params), *(_fmt(r.get(c), "") for c in alg_col),
                    *(_fmt(r.get(c), c) for c in show), _fmt(r.get("error"), "")] for r in rows]), ""]
    md += ["Each point's records and report are in `runs/<point>/`; every figure is in `results.csv` "
           "and `results.parquet`.", ""]
    for path, png in images.items():
        (folder / "plots").mkdir(exist_ok=True)
        (folder / path).write_bytes(png)
    atomic_write(folder / "seed_summary.csv", seed_summary_csv(rows, has_acc))
    atomic_write(folder / "comparisons.csv", comparisons_csv(rows, baseline, table))
    text = "\n".join(md)
    atomic_write(folder / "report.md", text)
    atomic_write(folder / "report.html", markdown_to_html(text, images, f"fedwave sweep: {folder.name}"))
    return folder / "report.html"


def _natural(v: str) -> tuple[int, float, str]:
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)
