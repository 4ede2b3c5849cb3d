"""Significance rules of sweep reports, on hand-made results tables with known answers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from sim.report.stats import NO_DIFFERENCE, paired_interval, t_interval
from sim.sweep.analysis import REACHED_BY_PRIVATE, paired_differences, savings
from sim.sweep.significance import COMPARISON_COLUMNS, SEED_SUMMARY_COLUMNS, savings_section

COST = ["target_uplink_bytes", "target_airtime_s", "target_energy_j"]


def row(alg: str, seed: int, acc: float, up: float | None, *, snr: int = 10, delivered: int = 10,
        reached: bool | None = None) -> dict[str, Any]:
    """One results row with its costs to target (``up`` None: target missed)."""
    reached = up is not None if reached is None else reached
    return {"point_id": f"{alg}-{snr}-{seed}", "status": "ok", "channel.snr_db": snr, "seed": seed,
            "algorithm": alg, "delivered_total": delivered, "uplink_bytes_total": 10 * (up or 1.0),
            "final_eval_accuracy": acc, "target_rounds": 2 if reached else None,
            "target_uplink_bytes": up if reached else None, "target_airtime_s": (up / 100) if reached and up else None,
            "target_energy_j": (up / 10) if reached and up else None}


def test_t_interval_width_is_the_student_closed_form():
    iv = t_interval([0.70, 0.72, 0.74])

    # s = 0.02, n = 3: half width t(0.975, 2) * 0.02 / sqrt(3), t(0.975, 2) = 4.302653.
    assert iv.n == 3 and iv.mean == pytest.approx(0.72)
    assert iv.high - iv.mean == pytest.approx(4.302653 * 0.02 / math.sqrt(3), rel=1e-6)
    assert iv.mean - iv.low == pytest.approx(0.0496828, rel=1e-5)
    one = t_interval([0.5])
    assert one.n == 1 and math.isnan(one.low) and not one.significant


def test_differences_are_paired_by_seed_not_pooled():
    a, b = [0.50, 0.70, 0.90], [0.47, 0.68, 0.87]
    rows = [row("fd_full", s, acc, 1.0) for s, acc in enumerate(a)]
    rows += [row("adaptive_topk", s, acc, 1.0) for s, acc in enumerate(b)]

    (diff,) = paired_differences(rows, "final_eval_accuracy", "adaptive_topk")

    # Paired: differences 0.03, 0.02, 0.03 -> significant; pooled, the seed spread hides it.
    ref = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (diff["interval"].low, diff["interval"].high) == pytest.approx((ref.low, ref.high))
    assert diff["verdict"] == "higher"
    pooled = stats.ttest_ind(a, b).confidence_interval(0.95)
    assert pooled.low < 0 < pooled.high
    assert paired_interval({0: 1.0, 1: 2.0, 7: 9.0}, {0: 0.5, 1: 1.0}).n == 2


def qualified_sweep(local_acc: list[float]) -> list[dict[str, Any]]:
    rows = [row("fd_full", s, 0.70 + 0.01 * s, 1000.0 + 100 * s) for s in range(3)]
    rows += [row("adaptive_topk", s, 0.71 + 0.01 * s, 400.0 + 30 * s) for s in range(3)]
    rows += [row("local_only", s, acc, None, delivered=0) for s, acc in enumerate(local_acc)]
    rows += [row("centralised", s, 0.90, None, delivered=0) for s in range(3)]
    return rows


def test_saving_is_claimed_only_above_local_only():
    above = savings(qualified_sweep([0.40, 0.42, 0.41]), "fd_full", COST, accuracy="final_eval_accuracy",
                    reached="target_rounds")
    level = savings(qualified_sweep([0.70, 0.74, 0.71]), "fd_full", COST, accuracy="final_eval_accuracy",
                    reached="target_rounds")

    # Only adaptive_topk is judged: the two bounds get no saving of their own.
    assert [s.algorithm for s in above] == ["adaptive_topk"]
    (s,) = above
    assert s.claim == "claimed" and s.verdicts["target_uplink_bytes"] == "lower"
    assert s.ratio["target_uplink_bytes"] == pytest.approx(430.0 / 1100.0)
    # adaptive_topk - local_only = 0.31, 0.30, 0.32 points: significant.
    assert s.vs_local is not None and s.vs_local.low > 0
    # 0.01, -0.02, 0.02: the interval includes 0, so no saving is claimed.
    assert level[0].claim == "not significantly above local_only"
    md, _ = savings_section(qualified_sweep([0.70, 0.74, 0.71]), "fd_full", True, 0.7)
    line = [m for m in md if m.startswith("- adaptive_topk")][0]
    assert "no saving claimed" in line and "uses" not in line


def test_a_target_local_only_reaches_is_private_training_alone():
    rows = qualified_sweep([0.40, 0.42, 0.41])
    rows[7] = row("local_only", 1, 0.42, 5.0, delivered=0)

    (s,) = savings(rows, "fd_full", COST, accuracy="final_eval_accuracy", reached="target_rounds")

    assert s.claim == REACHED_BY_PRIVATE and "1 of 3 seeds" in s.why


def test_a_baseline_that_delivered_nothing_is_refused():
    rows = qualified_sweep([0.40, 0.42, 0.41])
    rows[2] = row("fd_full", 2, 0.72, 1200.0, delivered=0)

    (s,) = savings(rows, "fd_full", COST, accuracy="final_eval_accuracy", reached="target_rounds")

    assert s.claim == "baseline delivered nothing" and "seed 2" in s.why
    md, _ = savings_section(rows, "fd_full", True, 0.7)
    assert not any("uses" in m for m in md if m.startswith("- "))


def test_without_local_only_savings_are_unqualified_and_ties_are_no_difference():
    rows = [row("fd_full", s, 0.7, up) for s, up in enumerate([1000.0, 1200.0, 1100.0])]
    rows += [row("adaptive_topk", s, 0.7, up) for s, up in enumerate([1100.0, 1000.0, 1150.0])]

    (s,) = savings(rows, "fd_full", COST, accuracy="final_eval_accuracy", reached="target_rounds")
    md, _ = savings_section(rows, "fd_full", True, 0.7)

    assert s.claim == "unqualified" and s.verdicts["target_uplink_bytes"] == NO_DIFFERENCE
    assert any(m.startswith("Savings are unqualified: `local_only` is not in this sweep") for m in md)
    line = [m for m in md if m.startswith("- adaptive_topk")][0]
    assert f"uplink: {NO_DIFFERENCE} from fd_full" in line and "uses" not in line


def test_a_missed_target_and_one_seed_claim_nothing():
    missed = [row("fd_full", s, 0.7, 1000.0) for s in range(3)]
    missed += [row("adaptive_topk", s, 0.7, None if s == 1 else 400.0) for s in range(3)]
    single = [row("fd_full", 0, 0.7, 1000.0), row("adaptive_topk", 0, 0.8, 400.0)]

    (m,) = savings(missed, "fd_full", COST, accuracy="final_eval_accuracy", reached="target_rounds")
    (o,) = savings(single, "fd_full", COST, accuracy="final_eval_accuracy", reached="target_rounds")

    assert m.claim == "target not reached in every seed"
    assert o.claim == "one seed: no interval"


def test_new_report_files_and_columns_are_documented():
    readme = (Path(__file__).parents[2] / "docs" / "records.md").read_text()

    assert "`DIR/seed_summary.csv`" in readme and "`DIR/comparisons.csv`" in readme
    for name in (*SEED_SUMMARY_COLUMNS, *COMPARISON_COLUMNS):
        assert f"`{name}`" in readme, name


def bounded_sweep(folder: Path) -> None:
    """A finished three-seed sweep folder with both bounds, written as the runner writes one."""
    from sim.store.records import atomic_write
    from sim.store.results import write_results
    from tests.sim.test_reports import FakePoint

    curves = {"fd_full": ([0.5, 0.7, 0.8], 1000), "adaptive_topk": ([0.6, 0.75, 0.85], 400),
              "local_only": ([0.3, 0.35, 0.4], 0), "centralised": ([0.8, 0.9, 0.95], 0)}
    points, markers = [], {}
    for alg, (acc, up) in curves.items():
        for seed in range(3):
            p = FakePoint(f"p-{alg}-{seed}", {"workload.algorithm": alg, "channel.snr_db": 10, "seed": seed})
            points.append(p)
            per_round = up + (10 * seed if alg == "adaptive_topk" else 0)
            lines = ["round,cum_uplink_bytes,airtime_s,energy_j,eval_accuracy"]
            lines += [f"{i},{per_round * (i + 1)},{per_round / 1000},{per_round / 100},{a + 0.01 * seed}"
                      for i, a in enumerate(acc)]
            atomic_write(folder / "runs" / p.id / "rounds.csv", "\n".join(lines) + "\n")
            row = {"algorithm": alg, "rounds": 3, "clients": 2, "uplink_bytes_total": 3 * per_round,
                   "airtime_s_total": 3 * per_round / 1000, "energy_j_total": 3 * per_round / 100,
                   "delivered_total": 6 if up else 0, "delivery_ratio": 1.0 if up else 0.0,
                   "final_eval_accuracy": acc[-1] + 0.01 * seed}
            markers[p.id] = {"id": p.id, "params": p.params, "status": "ok", "row": row}
    write_results(folder, points, markers, parquet=False)
    atomic_write(folder / "sweep.yaml", "seed: 0\nrounds: 3\n")


def test_report_claims_a_qualified_saving_and_refuses_one_private_training_reaches(tmp_path):
    from sim.report.sweep import write_sweep_report

    bounded_sweep(tmp_path)

    write_sweep_report(tmp_path, target_accuracy=0.7)
    md = (tmp_path / "report.md").read_text()
    write_sweep_report(tmp_path, target_accuracy=0.35)
    low = (tmp_path / "report.md").read_text()

    # To 0.7 (round 2): adaptive_topk 800, 820, 840 B against fd_full's 2000 B -> 41%; local_only never gets there.
    assert "## Savings relative to fd_full" in md and "Savings are unqualified" not in md
    assert "- adaptive_topk at channel.snr_db=10: uses 41% of fd_full's uplink to reach accuracy 0.7" in md
    assert "| adaptive_topk | channel.snr_db=10 | 3 | 41% (lower) |" in md
    assert "| centralised | channel.snr_db=10 |" not in md.split("## Savings")[1].split("## Pareto")[0]
    assert "centralised, an upper bound without a network, is left out" in md
    # local_only reaches 0.35 in round 2 on every seed: no saving against that target.
    assert f"no saving claimed against fd_full ({REACHED_BY_PRIVATE}: local_only reached it in 3 of 3 seeds)" in low
