"""Availability: the Markov chain against its stationary law, traces validated, offline clients."""

import numpy as np
import pytest

import workloads
from sim.core.availability import Availability, read_availability_trace
from sim.core.engine import Engine
from sim.config.scenario import ScenarioError, load_scenario
from tests.conftest import scenario


def test_markov_on_fraction_matches_mean_on_over_the_cycle():
    # Prepare: 200 chains, mean on 30 s, mean off 70 s: stationary P(on) = 0.3.
    av = Availability("markov", 200, seed=5, mean_on_s=30.0, mean_off_s=70.0)
    # Execute: time-average over 20,000 s (~200 cycles each) and a snapshot across clients.
    fractions = np.array([av.on_fraction(i, 20_000.0) for i in range(200)])
    snapshot = av.is_on(10_000.0)
    # Assert: time average within 0.01 (its std here is ~0.002); the snapshot is Binomial(200, 0.3), 4 sigma.
    assert fractions.mean() == pytest.approx(0.3, abs=0.01)
    assert abs(snapshot.sum() - 60) < 4 * np.sqrt(200 * 0.3 * 0.7)


def test_markov_starts_in_the_stationary_law_and_is_seeded():
    starts = Availability("markov", 2000, seed=1, mean_on_s=1.0, mean_off_s=3.0).is_on(0.0)
    assert abs(starts.sum() - 500) < 4 * np.sqrt(2000 * 0.25 * 0.75)
    again = Availability("markov", 2000, seed=1, mean_on_s=1.0, mean_off_s=3.0)
    assert np.array_equal(again.is_on(0.0), starts)
    # Client i's chain does not depend on how many clients there are.
    few = Availability("markov", 3, seed=1, mean_on_s=1.0, mean_off_s=3.0)
    assert [few.off_at(i, 7.5) for i in range(3)] == [again.off_at(i, 7.5) for i in range(3)]


def test_trace_intervals_are_half_open_and_touching_ones_merge(tmp_path):
    path = tmp_path / "av.csv"
    path.write_text("client,start_s,end_s\n0,0,5\n0,5,10\n1,2,3\n")
    av = Availability("trace", 2, intervals=read_availability_trace(path, 2))
    assert av.is_on(0.0).tolist() == [True, False]
    assert av.off_at(0, 4.0) == 10.0
    assert av.is_on(2.0).tolist() == [True, True]
    assert av.is_on(3.0).tolist() == [True, False]
    assert av.on_at(1, 0.5) == 2.0 and av.on_at(1, 3.0) == float("inf")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("client,start\n0,1\n", "needs columns client, start_s, end_s"),
        ("client,start_s,end_s\n0,x,1\n1,0,1\n", ":2: not a number"),
        ("client,start_s,end_s\n0,2,1\n1,0,1\n", ":2: need 0 <= start_s < end_s"),
        ("client,start_s,end_s\n0,0,1\n5,0,1\n", ":3: client 5 is not in 0..1"),
        ("client,start_s,end_s\n0,0,1\n", "no interval for client 1"),
        ("client,start_s,end_s\n0,0,4\n0,3,5\n1,0,1\n", ":3: interval starting at 3.0 overlaps"),
    ],
)
def test_bad_availability_trace_is_one_line_naming_file_and_problem(tmp_path, write_yaml, text, problem):
    trace = tmp_path / "av.csv"
    trace.write_text(text)
    path = write_yaml({"clients": {"count": 2, "availability": "trace", "availability_trace": str(trace)}})
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert "\n" not in msg and "clients.availability_trace" in msg and str(trace) in msg and problem in msg


def test_trace_availability_needs_its_file(write_yaml):
    with pytest.raises(ScenarioError, match="availability_trace: is required"):
        load_scenario(write_yaml({"clients": {"availability": "trace"}}))


# Two clients, no fading: client 0's upload of 4 Mbit at ~1 Mbit/s would take ~4 s.
OFF = {
    "seed": 3,
    "rounds": 3,
    "clients": {"count": 2, "device": {"flops_per_s": 1e9, "speed_sigma": 0.0, "compute_power_w": 2.0},
                "availability": "trace"},
    "cell": {"bandwidth_mhz": 1.0},
    "channel": {"snr_db": 10.0, "fading": {"model": "none"}},
    "round": {"deadline_s": 20.0},
    "workload": {"algorithm": "none", "payload_bits": 4_000_000, "downlink_bits": 0, "work_flop": 5e8},
}


def test_client_going_off_mid_upload_fails_offline_with_partial_airtime_and_energy(tmp_path):
    # Client 0 is on [0, 1.5): it computes 0.5 s, uploads for 1 s, then goes off.  Client 1 always on.
    trace = tmp_path / "av.csv"
    trace.write_text("client,start_s,end_s\n0,0,1.5\n1,0,1e9\n")
    cfg = {**OFF, "clients": {**OFF["clients"], "availability_trace": str(trace)}}
    scn = scenario(**cfg)
    res = Engine(scn, workloads.create("none", scn.workload, 2, scn.seed)).run()
    rnd, client = res.client_column("round").tolist(), res.client_column("client").tolist()
    outcome = res.client_column("outcome").tolist()
    # Round 0: both take part, 0 goes offline; later rounds: client 0 is off, never selected.
    assert list(zip(rnd, client, outcome)) == [(0, 0, "offline"), (0, 1, "delivered"), (1, 1, "delivered"), (2, 1, "delivered")]
    airtime, energy = res.client_column("airtime_s"), res.client_column("energy_j")
    # From 0.5 s (compute done, after the download's propagation delay, < 1 us in a cell) to 1.5 s.
    assert airtime[0] == pytest.approx(1.0, abs=1e-5) and airtime[0] < 1.0
    tx_w = 10 ** (23.0 / 10) / 1000
    assert energy[0] == pytest.approx(2.0 * 0.5 + tx_w * airtime[0], rel=1e-12)
    assert [r["participants"] for r in res.rounds] == [2, 1, 1]
    # The other client's upload is not disturbed (fdma_static: B/2 fixed at the round start): 4 Mbit at
    # 0.5 MHz log2(1 + 2 x 10) bit/s.
    assert airtime[1] == pytest.approx(4e6 / (0.5e6 * np.log2(21.0)), rel=1e-9)


def test_unavailable_clients_are_never_selected():
    scn = scenario(seed=2, rounds=40, clients={"count": 30, "per_round": 5, "selection": "round_robin",
                                               "availability": "markov", "mean_on_s": 20.0, "mean_off_s": 40.0},
                   round={"deadline_s": 3.0},
                   workload={"algorithm": "none", "payload_bits": 10_000, "downlink_bits": 10_000, "work_flop": 1e9})
    res = Engine(scn, workloads.create("none", scn.workload, 30, scn.seed)).run()
    check = Availability("markov", 30, seed=2, mean_on_s=20.0, mean_off_s=40.0)
    starts = {row["round"]: row["sim_time_s"] - row["duration_s"] for row in res.rounds}
    rows = list(zip(res.client_column("round").tolist(), res.client_column("client").tolist()))
    assert rows and all(check.off_at(c, starts[r]) > starts[r] for r, c in rows)
    assert all(row["participants"] <= 5 for row in res.rounds)


@pytest.mark.parametrize("sharing", ["ofdma", "fdma_static", "tdma"])
def test_cancelled_transfer_frees_its_share(sharing):
    # Two downlink transfers of 1 Mbit at SNR s on B = 1 MHz (no power concentration).
    import simpy

    from channels.rate import ShannonRate
    from sim.core.medium import make_medium

    env = simpy.Environment()
    med = make_medium(env, 1e6, sharing, ShannonRate(), False)
    s = 15.0
    med.begin_round(np.full(2, s), 2)
    full = 1e6 * np.log2(1 + s)
    a, b = med.transmit(0, 1e6), med.transmit(1, 1e6)
    env.run(until=0.1)
    med.cancel(a)
    env.run()
    assert a.cut and a.end_s == 0.1 and a.airtime_s == pytest.approx(0.1)
    if sharing == "ofdma":
        # Half the band until 0.1 s, then all of it: 1e6 = 0.1 full/2 + (T - 0.1) full.
        assert b.end_s == pytest.approx(0.1 + (1e6 - 0.1 * full / 2) / full, rel=1e-9)
        assert a.sent_bits == pytest.approx(0.1 * full / 2, rel=1e-9)
    elif sharing == "fdma_static":
        assert b.end_s == pytest.approx(1e6 / (full / 2), rel=1e-9)  # B/2 owned for the round, busy or not
        assert a.sent_bits == pytest.approx(0.1 * full / 2, rel=1e-9)
    else:
        # a was on the air first; b was queued behind it and keeps its slot.
        assert a.sent_bits == pytest.approx(0.1 * full, rel=1e-9)
        assert b.end_s == pytest.approx(2e6 / full, rel=1e-9)
