"""Asynchronous buffered aggregation: a 3-client event log worked by hand, weights, refusals."""

import math

import numpy as np
import pytest

import workloads
from channels.pathloss import SPEED_OF_LIGHT_M_S
from sim.core.engine import Engine
from sim.core.fedbuff import staleness_weight
from sim.config.scenario import ScenarioError, load_scenario
from tests.conftest import deep_merge, scenario

B_HZ, P_BITS = 1e6, 1_000_000
# Cycle lengths: nothing to download, nothing to compute, so a cycle is its upload.
CYCLE_S = [1.0, 1.6, 2.5]


def async_cfg(tmp_path, **round_keys):
    # fdma_static: each of the 3 clients owns B/3 with its power there, rate (B/3) log2(1 + 3 s).
    trace = tmp_path / "snr.csv"
    snr = [(2 ** (P_BITS / (t * B_HZ / 3)) - 1) / 3 for t in CYCLE_S]
    trace.write_text("time_s,client,snr_db\n" + "".join(f"0,{i},{10 * math.log10(s)!r}\n" for i, s in enumerate(snr)))
    return {
        "seed": 4,
        "rounds": 3,
        "clients": {"count": 3, "placement": {"kind": "fixed", "distances_m": [100.0] * 3}, "height_m": 10.0,
                    "device": {"speed_sigma": 0.0}},
        "cell": {"bandwidth_mhz": B_HZ / 1e6, "bs_height_m": 10.0},
        "channel": {"trace": str(trace)},
        # Fluid shares (1 MHz is under three PRBs): the cycle lengths above are worked on B/3.
        "medium": {"min_allocation": "none"},
        "round": {"mode": "async", "buffer_size": 2, "deadline_s": 100.0, **round_keys},
        "workload": {"algorithm": "none", "payload_bits": P_BITS, "downlink_bits": 0, "work_flop": 0.0},
    }


def run(cfg):
    scn = scenario(**cfg)
    engine = Engine(scn, workloads.create(scn.workload.algorithm, scn.workload, scn.clients.count, scn.seed))
    return engine, engine.run()


def test_three_client_event_log_worked_by_hand(tmp_path):
    # Arrivals (client: times): 0 at 1, 2, 3; 1 at 1.6, 3.2; 2 at 2.5.  K = 2:
    #   1.0 c0 (pulled v0, tau 0), 1.6 c1 (v0, tau 0) -> aggregation 0 at 1.6, server now v1;
    #   2.0 c0 (started at 1.0 on v0, tau 1), 2.5 c2 (started at 0 on v0, tau 1) -> aggregation 1 at 2.5, v2;
    #   3.0 c0 (started at 2.0 on v1, tau 1), 3.2 c1 (started at 1.6 on v1, tau 1) -> aggregation 2 at 3.2.
    engine, res = run(async_cfg(tmp_path))
    lat = math.hypot(100.0, 0.0) / SPEED_OF_LIGHT_M_S  # one way, every client at 100 m, same heights
    arrivals = [(t, c, tau) for t, ev, c, tau in engine._fedbuff.log if ev == "arrive"]
    expected = [(1.0, 0, 0), (1.6, 1, 0), (2.0, 0, 1), (2.5, 2, 1), (3.0, 0, 1), (3.2, 1, 1)]
    assert [(c, tau) for _, c, tau in arrivals] == [(c, tau) for _, c, tau in expected]
    # Each cycle adds two propagation delays (the empty download's and the upload's).
    k_of = {}
    for (t, c, _), _ in zip(arrivals, expected):
        k_of[c] = k_of.get(c, 0) + 1
        assert t == pytest.approx(k_of[c] * (CYCLE_S[c] + 2 * lat), abs=1e-9)
    aggs = [t for t, ev, _, _ in engine._fedbuff.log if ev == "aggregate"]
    assert aggs == pytest.approx([1.6 + 2 * lat, 2.5 + 2 * lat, 2 * (1.6 + 2 * lat)], abs=1e-9)
    # The records: one round per aggregation, its rows the cycles ended since the last one.
    assert [row["participants"] for row in res.rounds] == [2, 2, 2]
    assert [row["sim_time_s"] for row in res.rounds] == pytest.approx(aggs)
    assert res.client_column("round").tolist() == [0, 0, 1, 1, 2, 2]
    assert res.client_column("client").tolist() == [0, 1, 0, 2, 0, 1]
    assert res.client_column("staleness").tolist() == [0, 0, 1, 1, 1, 1]
    assert set(res.client_column("outcome").tolist()) == {"delivered"}


def test_updates_staler_than_the_limit_are_dropped_and_not_counted(tmp_path):
    # max_staleness 0: the tau-1 arrivals are stale; only fresh ones fill the buffer.
    engine, res = run(deep_merge(async_cfg(tmp_path, max_staleness=0), {"rounds": 1}))
    assert res.client_column("outcome").tolist() == ["delivered", "delivered"]
    engine, res = run(deep_merge(async_cfg(tmp_path, max_staleness=0), {"rounds": 2}))
    rows = list(zip(res.client_column("round").tolist(), res.client_column("client").tolist(),
                    res.client_column("outcome").tolist(), res.client_column("staleness").tolist()))
    # After aggregation 0 (1.6): 2.0 c0 stale, 2.5 c2 stale, 3.0 c0 fresh (started 2.0 on v1), 3.2 c1 fresh.
    assert rows[2:] == [(1, 0, "stale", 1), (1, 2, "stale", 1), (1, 0, "delivered", 0), (1, 1, "delivered", 0)]
    assert res.rounds[1]["delivered"] == 2 and res.rounds[1]["dropped"] == 2


def test_a_clients_newer_update_replaces_its_buffered_one(tmp_path):
    # K = 3 with cycles 1, 1.6, 2.5: c0 arrives at 1 and again at 2 before the buffer fills (c1 at 1.6,
    # c2 at 2.5): its first update is dropped as stale, the buffer fills at 2.5 with c1, c0 (tau 0), c2.
    engine, res = run(deep_merge(async_cfg(tmp_path, buffer_size=3), {"rounds": 1}))
    rows = list(zip(res.client_column("client").tolist(), res.client_column("outcome").tolist(),
                    res.client_column("staleness").tolist()))
    assert rows == [(0, "stale", 0), (1, "delivered", 0), (0, "delivered", 0), (2, "delivered", 0)]
    assert res.rounds[0]["delivered"] == 3


def test_staleness_weights_closed_forms():
    assert staleness_weight(3, "constant", 0.5, 4) == 1.0
    assert staleness_weight(3, "polynomial", 0.5, 4) == pytest.approx(0.5)
    assert staleness_weight(0, "polynomial", 2.0, 4) == 1.0
    assert staleness_weight(4, "hinge", 2.0, 4) == 1.0
    assert staleness_weight(6, "hinge", 2.0, 4) == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="staleness must be >= 0"):
        staleness_weight(-1, "constant", 0.5, 4)


def test_deadline_bounds_a_cycle_in_async(tmp_path):
    # Client 2's 2.5 s cycle never fits a 2 s deadline: every cycle of it is cut.
    engine, res = run(deep_merge(async_cfg(tmp_path, deadline_s=2.0), {"rounds": 3}))
    out = list(zip(res.client_column("client").tolist(), res.client_column("outcome").tolist()))
    assert (2, "deadline") in out and (2, "delivered") not in out
    cut = res.client_column("airtime_s")[res.client_column("client") == 2]
    assert cut == pytest.approx(np.full(cut.shape, 2.0 - math.hypot(100.0, 0.0) / SPEED_OF_LIGHT_M_S), abs=1e-9)


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"clients": {"count": 3}, "round": {"mode": "async", "buffer_size": 4}}, "round.buffer_size: 4 is more than clients.count=3"),
        ({"round": {"mode": "async"}, "workload": {"algorithm": "fd_full"}}, "round.mode: async cannot run fd_full"),
        ({"round": {"mode": "async"}, "workload": {"algorithm": "fedsoda", "families": ["llama"], "layers": 4}},
         "round.mode: async cannot run fedsoda"),
        ({"round": {"mode": "async"}, "clients": {"per_round": 2}}, "clients.per_round: applies to sync rounds only"),
        ({"round": {"mode": "async"}, "medium": {"uplink_sharing": "tdma"}}, "round.mode: async cannot share the band by tdma"),
    ],
)
def test_async_refusals_are_one_line(write_yaml, data, problem):
    with pytest.raises(ScenarioError) as err:
        load_scenario(write_yaml(data))
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_fedavg_lora_runs_async_and_applies_stale_deltas():
    cfg = {
        "seed": 2,
        "rounds": 3,
        "clients": {"count": 3},
        "round": {"mode": "async", "buffer_size": 2, "deadline_s": 1000.0},
        "workload": {"algorithm": "fedavg_lora", "families": ["llama"], "hidden_size": 16, "layers": 1, "heads": 2,
                     "vocab_size": 128, "text_tokens": 8, "warmup_steps": 0, "local_steps": 1, "batch_size": 4,
                     "test_size": 8, "pretrain_size": 8, "private_max": 8},
    }
    engine, res = run(cfg)
    assert len(res.rounds) == 3 and all("eval_accuracy" in row for row in res.rounds)
    assert res.client_column("staleness").max() >= 1  # some update was applied to a newer model
    alg = engine.algorithm
    assert alg.global_state and not alg._pulled  # every pulled adapter was trained from
