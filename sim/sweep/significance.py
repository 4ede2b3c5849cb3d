"""The parts of a sweep report that weigh evidence: results over seeds, paired differences, savings.

Every figure over seeds is a mean with its 95% Student t interval and its n;
every difference between two algorithms is paired by seed (same seed = same
split, initialisation and channel). A difference whose interval includes 0 is
"no significant difference"; a saving is claimed only where the algorithm's
accuracy is significantly above ``local_only``'s at the same setting, never
against a target ``local_only`` reaches on its own, and never against a
baseline run that delivered nothing.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from sim.report.summary import _fmt_bytes, _table
from sim.report.stats import NO_DIFFERENCE, Interval
from sim.sweep.analysis import (
    LOCAL_ONLY,
    REFERENCES,
    Saving,
    over_seeds,
    paired_differences,
    savings,
    setting_params,
    setting_text,
)

__all__ = [
    "ACCURACY",
    "SEED_SUMMARY_COLUMNS",
    "COMPARISON_COLUMNS",
    "over_seeds_section",
    "accuracy_section",
    "savings_section",
    "seed_summary_csv",
    "comparisons_csv",
]

ACCURACY = "final_eval_accuracy"
SEED_SUMMARY_COLUMNS = ("algorithm", "metric", "n", "mean", "ci_low", "ci_high")
COMPARISON_COLUMNS = ("algorithm", "versus", "metric", "n", "mean_diff", "ci_low", "ci_high", "verdict", "ratio",
                      "claim", "why")

_SUMMARY = (("delivery_ratio", "delivery ratio"), ("uplink_bytes_total", "uplink"),
            ("airtime_s_total", "airtime [s]"), ("energy_j_total", "energy [J]"))
_WORDS = {"uplink": "uplink", "airtime": "airtime", "energy": "energy"}


def _num(v: float, col: str, signed: bool = False) -> str:
    if not math.isfinite(v):
        return "n/a"
    if "bytes" in col:
        text = _fmt_bytes(abs(v)) if signed else _fmt_bytes(v)
        return ("-" if signed and v < 0 else "+" if signed and v > 0 else "") + text
    if "accuracy" in col and signed:
        return f"{100 * v:+.1f} pt"
    return f"{v:+.4g}" if signed else f"{v:.4g}"


def _iv(iv: Interval, col: str, signed: bool = False) -> str:
    """``mean [low, high]`` (``mean`` alone for one seed)."""
    if iv.n == 0:
        return "n/a"
    if iv.n < 2:
        return _num(iv.mean, col, signed)
    return f"{_num(iv.mean, col, signed)} [{_num(iv.low, col, signed)}, {_num(iv.high, col, signed)}]"


def _share(ratio: float | None, verdict: str) -> str:
    return "n/a" if ratio is None else f"{100 * ratio:.0f}% ({verdict})"


def _columns(has_acc: bool) -> list[tuple[str, str]]:
    return ([(ACCURACY, "final accuracy")] if has_acc else []) + list(_SUMMARY)


def over_seeds_section(rows: Sequence[Mapping[str, Any]], has_acc: bool) -> list[str]:
    """Mean and 95% interval over seeds of each algorithm at each setting."""
    cols = _columns(has_acc)
    table = over_seeds(rows, [c for c, _ in cols])
    params = setting_params(rows)
    n_max = max((e[c].n for e in table for c, _ in cols), default=0)
    md = ["## Over seeds", "",
          "Mean over the seeds of each algorithm at each setting, with its 95% Student t interval "
          "(mean +- t(0.975, n-1) s / sqrt(n)); n is the number of seeds."
          + (" With one seed there is no interval and nothing below is claimed." if n_max < 2 else ""), ""]
    md += [_table(["algorithm", "setting", "n", *(h for _, h in cols)],
                  [[e["algorithm"], setting_text(params, e["setting"]) or "(all)", max(e[c].n for c, _ in cols),
                    *(_iv(e[c], c) for c, _ in cols)] for e in table]), ""]
    return md


def accuracy_section(rows: Sequence[Mapping[str, Any]], baseline: str | None) -> list[str]:
    """Final accuracy of each algorithm minus local_only's and the baseline's, paired by seed."""
    params = setting_params(rows)
    algs = {str(r["algorithm"]) for r in rows if r.get("status") == "ok"}
    md = ["## Accuracy differences, paired over seeds", "",
          "Each algorithm's final accuracy minus the reference's at the same setting and seed, in points, "
          f"with its 95% interval over the n paired seeds; an interval that includes 0 is \"{NO_DIFFERENCE}\".", ""]
    lines = []
    for versus in dict.fromkeys(v for v in (LOCAL_ONLY, baseline) if v is not None and v in algs):
        for e in paired_differences(rows, ACCURACY, versus):
            lines.append([e["algorithm"], versus, setting_text(params, e["setting"]) or "(all)", e["interval"].n,
                          _iv(e["interval"], ACCURACY, signed=True), e["verdict"]])
    if LOCAL_ONLY not in algs:
        md += [f"`{LOCAL_ONLY}` is not in this sweep: no algorithm is shown to learn more than private training "
               f"alone (add `--grid workload.algorithm=...,{LOCAL_ONLY}`).", ""]
    if lines:
        md += [_table(["algorithm", "versus", "setting", "n", "difference [95% CI]", "verdict"], lines), ""]
    return md


def _claim_line(e: Saving, cols: Sequence[str], params: Sequence[str], what: str) -> str:
    where = f" at {setting_text(params, e.setting)}" if e.setting else ""
    if e.claim not in ("claimed", "unqualified"):
        return f"- {e.algorithm}{where}: no saving claimed against {e.baseline} ({e.claim}" \
               + (f": {e.why}" if e.why else "") + ")."
    parts = []
    for c in cols:
        word = next(w for k, w in _WORDS.items() if k in c)
        iv, ratio = e.diff[c], e.ratio[c]
        if e.verdicts[c] == "lower" and ratio is not None:
            parts.append(f"uses {100 * ratio:.0f}% of {e.baseline}'s {word} {what} "
                         f"(difference {_iv(iv, c, signed=True)}, n={iv.n})")
        elif e.verdicts[c] == "higher" and ratio is not None:
            parts.append(f"uses more {word} than {e.baseline} ({100 * ratio:.0f}%, {_iv(iv, c, signed=True)})")
        else:
            parts.append(f"{word}: {e.verdicts[c]} from {e.baseline}" + (f" ({_iv(iv, c, signed=True)})"
                                                                          if iv.n >= 2 else ""))
    tail = (f"; accuracy {_iv(e.vs_local, ACCURACY, signed=True)} against {LOCAL_ONLY}"
            if e.claim == "claimed" and e.vs_local is not None else f" (unqualified: {e.why})")
    return f"- {e.algorithm}{where}: " + "; ".join(parts) + tail + "."


def savings_section(
    rows: Sequence[Mapping[str, Any]], baseline: str, has_acc: bool, target: float | None
) -> tuple[list[str], list[Saving]]:
    """The savings table and the claims it supports, with the reason wherever nothing is claimed."""
    cols = (["target_uplink_bytes", "target_airtime_s", "target_energy_j"] if has_acc
            else ["uplink_bytes_total", "airtime_s_total", "energy_j_total"])
    table = savings(rows, baseline, cols, accuracy=ACCURACY if has_acc else None,
                    reached="target_rounds" if has_acc else None)
    params = setting_params(rows)
    algs = {str(r["algorithm"]) for r in rows if r.get("status") == "ok"}
    what = f"to reach accuracy {target:g}" if has_acc and target is not None else "over the whole run"
    md = [f"## Savings relative to {baseline}", "",
          f"Each algorithm's cost {what} as a share of {baseline}'s at the same setting (mean over the seeds both "
          "ran; choose the baseline with `--baseline`), with the verdict of the paired difference: `lower` is a "
          f"saving, `{NO_DIFFERENCE}` when its 95% interval includes 0. A saving is claimed only where the "
          f"algorithm's final accuracy is significantly above `{LOCAL_ONLY}`'s at the same setting (paired over "
          f"seeds), not against a target `{LOCAL_ONLY}` reaches too, and never against a baseline run that "
          "delivered nothing.", ""]
    if not has_acc:
        md += ["Savings are unqualified: a network-only sweep has no accuracy to show that what was sent is worth "
               "sending.", ""]
    elif LOCAL_ONLY not in algs:
        md += [f"Savings are unqualified: `{LOCAL_ONLY}` is not in this sweep, so nothing shows that these "
               "algorithms learn more than private training alone.", ""]
    md += [_table(["algorithm", "setting", "n", "uplink", "airtime", "energy", "claim"],
                  [[e.algorithm, setting_text(params, e.setting) or "(all)", e.diff[cols[0]].n,
                    *(_share(e.ratio[c], e.verdicts[c]) for c in cols),
                    e.claim] for e in table]), ""]
    md += [_claim_line(e, cols, params, what) for e in table]
    refs = sorted(algs & set(REFERENCES))
    if refs:
        md += ["", f"{' and '.join(refs)}: reference bound(s), no saving of their own"
               + (" (centralised has no network cost)." if "centralised" in refs else ".")]
    return md + [""], table


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in r]
                 for r in rows])
    return buf.getvalue()


def seed_summary_csv(rows: Sequence[Mapping[str, Any]], has_acc: bool) -> str:
    """``seed_summary.csv``: the setting's keys, then :data:`SEED_SUMMARY_COLUMNS`, one row per metric."""
    params = setting_params(rows)
    cols = [c for c, _ in _columns(has_acc)] + (["target_rounds", "target_uplink_bytes", "target_airtime_s",
                                                  "target_energy_j"] if has_acc else [])
    out = []
    for e in over_seeds(rows, cols):
        for c in cols:
            iv = e[c]
            out.append([*e["setting"], e["algorithm"], c, iv.n, iv.mean, iv.low, iv.high])
    return _csv([*params, *SEED_SUMMARY_COLUMNS], out)


def comparisons_csv(
    rows: Sequence[Mapping[str, Any]], baseline: str | None, table: Sequence[Saving]
) -> str:
    """``comparisons.csv``: paired accuracy differences and every saving with its claim."""
    params = setting_params(rows)
    algs = {str(r["algorithm"]) for r in rows if r.get("status") == "ok"}
    out = []
    if any(r.get(ACCURACY) is not None for r in rows):
        for versus in dict.fromkeys(v for v in (LOCAL_ONLY, baseline) if v is not None and v in algs):
            for e in paired_differences(rows, ACCURACY, versus):
                iv = e["interval"]
                out.append([*e["setting"], e["algorithm"], versus, ACCURACY, iv.n, iv.mean, iv.low, iv.high,
                            e["verdict"], None, None, None])
    for s in table:
        for c, iv in s.diff.items():
            out.append([*s.setting, s.algorithm, s.baseline, c, iv.n, iv.mean, iv.low, iv.high, s.verdicts[c],
                        s.ratio[c], s.claim, s.why])
    return _csv([*params, *COMPARISON_COLUMNS], out)
