"""Who takes part each round: selection policies against closed forms and hand-worked sequences."""

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import workloads
from sim.core.engine import Engine
from sim.config.scenario import ScenarioError, load_scenario
from sim.core.selection import Selector
from tests.conftest import deep_merge, scenario

ROOT = Path(__file__).parents[2]

# 20 clients on a disc, Rayleigh fading: every round a fresh, different SNR draw.
CELL = {
    "seed": 7,
    "rounds": 12,
    "clients": {"count": 20, "per_round": 5, "device": {"speed_sigma": 0.0}},
    "round": {"deadline_s": 5.0},
    "workload": {"algorithm": "none", "payload_bits": 200_000, "downlink_bits": 100_000, "work_flop": 1e11},
}


def run(cfg):
    scn = scenario(**cfg)
    return Engine(scn, workloads.create(scn.workload.algorithm, scn.workload, scn.clients.count, scn.seed)).run()


def chosen(res):
    """{round: sorted client ids with a row in clients.csv}."""
    out = {}
    for r, c in zip(res.client_column("round").tolist(), res.client_column("client").tolist()):
        out.setdefault(r, []).append(c)
    return out


def test_uniform_frequencies_pass_a_chi_square_test():
    # Prepare: 10 clients, 3 a round, 3000 rounds -> 900 selections expected per client.
    sel = Selector("uniform", 10, 3, seed=11)
    everyone, snr = np.ones(10, dtype=bool), np.zeros(10)
    # Execute
    counts = Counter()
    for _ in range(3000):
        picked = sel.select(everyone, snr, snr)
        assert len(set(picked.tolist())) == 3  # without replacement
        counts.update(picked.tolist())
    # Assert: equal frequencies are not rejected at the 0.1 % level.
    observed = [counts[i] for i in range(10)]
    assert stats.chisquare(observed).pvalue > 1e-3
    assert sum(observed) == 9000


def test_uniform_pairs_are_uniform_too():
    # Without replacement: each of the C(5, 2) = 10 pairs equally likely.
    sel = Selector("uniform", 5, 2, seed=3)
    everyone, snr = np.ones(5, dtype=bool), np.zeros(5)
    pairs = Counter(tuple(sel.select(everyone, snr, snr).tolist()) for _ in range(5000))
    assert len(pairs) == 10
    assert stats.chisquare(list(pairs.values())).pvalue > 1e-3


def test_round_robin_serves_every_client_exactly_equally_often():
    sel = Selector("round_robin", 10, 3, seed=0)
    everyone, snr = np.ones(10, dtype=bool), np.zeros(10)
    picks = [sel.select(everyone, snr, snr).tolist() for _ in range(10)]
    assert picks[:4] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 1, 9]]
    assert Counter(c for p in picks for c in p) == {i: 3 for i in range(10)}


def test_round_robin_skips_unavailable_clients_and_keeps_its_place():
    sel = Selector("round_robin", 5, 2, seed=0)
    snr = np.zeros(5)
    assert sel.select(np.array([True, False, True, True, True]), snr, snr).tolist() == [0, 2]
    assert sel.select(np.ones(5, dtype=bool), snr, snr).tolist() == [3, 4]
    assert sel.select(np.ones(5, dtype=bool), snr, snr).tolist() == [0, 1]


def test_proportional_fair_hand_worked_sequence():
    # Rates 2 and 1, t_c = 2.  Round 0: both never served (ratio inf), higher rate wins -> 0; T = (1, 0).
    # Round 1: client 1 still inf -> 1; T = (0.5, 0.5).  Round 2: ratios 4 vs 2 -> 0; T = (1.25, 0.25).
    # Round 3: 1.6 vs 4 -> 1.
    sel = Selector("proportional_fair", 2, 1, seed=0, pf_time_constant_rounds=2.0)
    rate, on = np.array([2.0, 1.0]), np.ones(2, dtype=bool)
    seq = []
    for r in range(4):
        picked = sel.select(on, rate, rate)
        sel.update(r, picked, np.ones(1, dtype=bool), rate)
        seq.append(int(picked[0]))
    assert seq == [0, 1, 0, 1]
    assert sel._served_bps.tolist() == pytest.approx([0.625, 0.625])


def test_age_picks_the_oldest_delivery_and_a_failure_stays_old():
    sel = Selector("age", 3, 1, seed=0)
    snr, on = np.array([1.0, 3.0, 2.0]), np.ones(3, dtype=bool)
    seq = []
    for r in range(5):
        picked = sel.select(on, snr, snr)
        # Client 2's upload of round 1 fails: it is still the oldest (never delivered) in round 2.
        sel.update(r, picked, ~((picked == 2) & (r == 1)), snr)
        seq.append(int(picked[0]))
    # r0: all never delivered, best SNR -> 1.  r1: 0 and 2 tie, SNR -> 2 (fails).  r2: 2 again
    # (delivers).  r3: 0, the last never delivered.  r4: 1, delivered longest ago (round 0).
    assert seq == [1, 2, 2, 0, 1]


def test_best_channel_takes_the_top_snrs_of_the_same_rounds_draw():
    # Prepare: the same seed with everybody taking part records every client's SNR of each round.
    everyone = run(deep_merge(CELL, {"clients": {"per_round": None}}))
    snr = everyone.client_column("snr_db").reshape(CELL["rounds"], 20)
    # Execute
    best = run(deep_merge(CELL, {"clients": {"selection": "best_channel"}}))
    # Assert: each round's rows are that round's five highest SNRs, and carry those SNRs.
    rows = chosen(best)
    for r in range(CELL["rounds"]):
        assert rows[r] == sorted(np.argsort(-snr[r], kind="stable")[:5].tolist())
    got = best.client_column("snr_db").reshape(CELL["rounds"], 5)
    assert np.array_equal(got, np.take_along_axis(snr, np.array(list(rows.values())), axis=1))


def test_rounds_record_m_participants_and_one_client_row_each():
    res = run(CELL)
    assert [row["participants"] for row in res.rounds] == [5] * CELL["rounds"]
    assert all(row["delivered"] + row["dropped"] == 5 for row in res.rounds)
    assert len(res.client_column("client")) == 5 * CELL["rounds"]
    assert res.rounds[-1]["cum_uplink_bytes"] == sum(row["uplink_bytes"] for row in res.rounds)


def test_unselected_clients_spend_nothing_and_share_no_band():
    # fdma_static: each of the M selected owns B/M, so a 5-of-20 round gets 4x the rate of 20-of-20.
    every = run(deep_merge(CELL, {"clients": {"per_round": None}, "channel": {"fading": {"model": "none"}, "snr_db": 0.0}}))
    five = run(deep_merge(CELL, {"channel": {"fading": {"model": "none"}, "snr_db": 0.0}}))
    assert five.client_column("airtime_s").max() < every.client_column("airtime_s").min()
    assert len(five.client_column("energy_j")) == 5 * CELL["rounds"]
    assert five.rounds[0]["downlink_bytes"] == 5 * 100_000 // 8


def test_same_clients_for_two_algorithms_on_one_seed():
    # Different algorithms load the network differently; the uniform draws are their own stream.
    a = run(CELL)
    b = run(deep_merge(CELL, {"workload": {"payload_bits": 9_000_000, "work_flop": 5e12}, "medium": {"uplink_sharing": "ofdma"}}))
    assert chosen(a) == chosen(b)
    assert [o for o in b.client_column("outcome")] != [o for o in a.client_column("outcome")]


def test_same_clients_for_two_learning_algorithms_on_one_seed():
    tiny = {
        "rounds": 3,
        "clients": {"count": 4, "per_round": 2},
        "workload": {"hidden_size": 16, "layers": 1, "heads": 2, "vocab_size": 128, "text_tokens": 8,
                     "warmup_steps": 0, "local_steps": 1, "batch_size": 4, "distill_steps": 1, "public_size": 4,
                     "test_size": 8, "pretrain_size": 8, "private_max": 8},
    }
    a = run(deep_merge(tiny, {"workload": {"algorithm": "fedavg_lora"}}))
    b = run(deep_merge(tiny, {"workload": {"algorithm": "fd_topk_zeropad"}}))
    assert chosen(a) == chosen(b)
    assert sum(len(v) for v in chosen(a).values()) == 6


def test_selection_off_is_everybody_every_round():
    res = run(deep_merge(CELL, {"clients": {"per_round": None}}))
    assert [row["participants"] for row in res.rounds] == [20] * CELL["rounds"]


def test_more_selected_than_clients_is_refused_in_one_line(tmp_path, write_yaml):
    path = write_yaml({"clients": {"count": 10, "per_round": 12}})
    with pytest.raises(ScenarioError, match=r"clients\.per_round: 12 is more than clients\.count=10"):
        load_scenario(path)
    proc = subprocess.run([sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "per_round" in proc.stderr


def test_jain_index_closed_forms_and_round_robin_is_perfectly_fair():
    from sim.report.participation import jain_index, participation_stats

    assert jain_index(np.array([2.0, 2.0, 2.0])) == 1.0
    assert jain_index(np.array([1.0, 0.0, 0.0, 0.0])) == 0.25
    assert jain_index(np.array([1.0, 3.0])) == pytest.approx(16 / 20)
    # 12 rounds x 5 of 20 by round robin: every client exactly 3 times.
    res = run(deep_merge(CELL, {"clients": {"selection": "round_robin"}}))
    st = participation_stats(res, 20)
    assert st["participations"].tolist() == [3.0] * 20 and st["jain_participation"] == 1.0


def test_report_has_participation_and_fairness(tmp_path):
    from sim.run import run_scenario

    run_scenario(scenario(**deep_merge(CELL, {"clients": {"selection": "round_robin"}})), tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text()
    assert "## Participation" in text and "participation 1.000" in text
    assert "uploads delivered" in text and f"of {5 * CELL['rounds']}" in text
