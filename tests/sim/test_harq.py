"""HARQ with chase combining: the attempt distribution against the BLER curve at the summed SNR."""

import math

import numpy as np
import pytest
import simpy

from channels.nr_mcs import McsTable, NrMcsRate
from channels.rate import chase_error_rates
from sim.core.harq import harq_attempts
from sim.core.medium import make_medium

# A hand-made MCS table on Sionna's grid (-5 .. 30 dB, 0.1 dB): one MCS of 0.5 bit/s/Hz
# everywhere, whose BLER is a logistic curve in dB, 1 / (1 + exp((x - 4 dB) / 0.5 dB)).
GRID_DB = -5.0 + 0.1 * np.arange(351)


def logistic_bler(snr_db):
    return 1.0 / (1.0 + np.exp((np.asarray(snr_db) - 4.0) / 0.5))


def hand_rate():
    n = GRID_DB.shape[0]
    by_mcs = np.ones((11, n))
    by_mcs[10] = logistic_bler(GRID_DB)
    table = McsTable(-5.0, 0.1, np.full(n, 10), np.full(n, 0.5), by_mcs[10].copy(), by_mcs)
    return NrMcsRate(table)


def test_attempts_follow_the_bler_at_the_summed_snr():
    # Prepare: one client alone on the band at 3 dB. After k combined copies the packet is
    # still lost with S_k = BLER(k s), s = 3 dB: P(attempts = k) = S_(k-1) - S_k, and M = 4
    # tries when S_3 is reached (delivered or not).
    s_db = 3.0
    env = simpy.Environment()
    medium = make_medium(env, 1e6, "fdma_static", hand_rate(), power_concentration=False)
    medium.begin_round(np.array([10 ** (s_db / 10)]), 1)
    survive = [1.0] + [float(logistic_bler(round(10 * math.log10(k * 10 ** (s_db / 10)), 1))) for k in (1, 2, 3, 4)]
    expected = [survive[0] - survive[1], survive[1] - survive[2], survive[2] - survive[3], survive[3]]
    rng = np.random.default_rng(5)
    trials = 20_000
    # Execute
    rates = medium.harq_error_rates(0, 4)
    attempts = np.array([harq_attempts(1000, 1000, rates, rng).attempts for _ in range(trials)])
    # Assert: each frequency within 4 binomial standard errors
    freq = np.bincount(attempts, minlength=5)[1:] / trials
    assert expected[0] == pytest.approx(1 - 0.8808, abs=1e-3)  # BLER(3 dB) = 1 / (1 + e^-2)
    sigma = np.sqrt(np.array(expected) * (1 - np.array(expected)) / trials)
    assert np.all(np.abs(freq - expected) <= 4 * sigma + 1e-12)


def test_the_packet_fails_with_the_bler_after_all_copies():
    s = 10 ** 0.3
    rate = hand_rate()
    rates = chase_error_rates(rate.combined_bler(s, 2), 0.0)
    rng = np.random.default_rng(6)
    ok = np.array([harq_attempts(1000, 1000, rates, rng).ok for _ in range(20_000)])
    lost = float(logistic_bler(round(10 * math.log10(2 * s), 1)))  # BLER(6.0 dB) = 0.0180
    assert abs((1 - ok.mean()) - lost) < 4 * math.sqrt(lost * (1 - lost) / 20_000)


def test_constant_error_rates_are_plain_arq():
    # E[tries per packet] = (1 - p^M) / (1 - p) over packets that got through; p = 0.3, M = 6.
    rng = np.random.default_rng(7)
    p, m, packets = 0.3, 6, 1000
    tries = [harq_attempts(packets * 100, 100, np.full(m, p), rng) for _ in range(50)]
    mean = np.mean([t.attempts for t in tries if t.ok]) / packets
    assert mean == pytest.approx((1 - p**m) / (1 - p), rel=0.01)


def test_an_extra_loss_is_not_combined():
    # Shannon is error-free: only packet_error_rate remains, the same at every try.
    assert chase_error_rates(np.zeros(3), 0.2).tolist() == pytest.approx([0.2, 0.2, 0.2])


def test_chase_combining_through_a_run_on_nr_mcs():
    # Prepare: one client, no fading, pinned at a grid SNR where the MCS that link adaptation picks
    # (TBLER <= 0.5) fails often; with chase combining the second copy is decoded 3 dB higher,
    # where that MCS hardly ever fails.
    import workloads
    from sim.core.engine import Engine
    from tests.conftest import scenario

    tab = NrMcsRate.from_sionna("uplink", 1, 0.5).table
    grid_db = tab.snr_db_min + tab.snr_db_step * np.arange(tab.mcs.shape[0])
    snr_db = float(grid_db[np.flatnonzero((tab.tbler > 0.25) & (grid_db > 0))[0]])
    cfg = {
        "rounds": 40,
        "clients": {"count": 1},
        "channel": {"snr_db": snr_db, "fading": {"model": "none"}, "rate": {"model": "nr_mcs", "bler_target": 0.5}},
        "round": {"deadline_s": 100.0},
        "workload": {"algorithm": "none", "payload_bits": 1_200_000, "downlink_bits": 0, "work_flop": 0.0},
    }
    runs = {}
    for combining in ("none", "chase"):
        scn = scenario(**{**cfg, "medium": {"combining": combining, "max_attempts": 16}})
        engine = Engine(scn, workloads.create("none", scn.workload, 1, scn.seed))
        runs[combining] = (engine, engine.run())
    engine, res = runs["chase"]
    s = engine.uplink.harq_error_rates(0, 16)
    survive = np.concatenate([[1.0], np.cumprod(s)])
    # Assert: M = 16 tries, so no packet ever fails (p^16 < 1e-8); mean tries per packet,
    # E[T] = sum_(k<M) S_k, over 4,000 packets (sd of T below 1)
    assert (res.client_column("outcome") == "delivered").all()
    per_packet = res.client_column("attempts").mean() / 100
    assert per_packet == pytest.approx(survive[:16].sum(), abs=4 / math.sqrt(4000))
    p = runs["none"][0].uplink.expected_bler(0)
    assert 0.2 < p <= 0.5  # the scenario is built so: first tries fail often
    plain = runs["none"][1].client_column("attempts").mean() / 100
    assert plain == pytest.approx((1 - p**16) / (1 - p), abs=4 / math.sqrt(4000))
    assert per_packet < plain  # 1 + p against 1 / (1 - p)


def test_transport_block_packets_through_a_run():
    # Prepare: 30 dB, one client: packets are the TB of the MCS link adaptation picks there.
    import workloads
    from sim.core.engine import Engine
    from tests.conftest import scenario

    cfg = {
        "rounds": 3,
        "clients": {"count": 1},
        "channel": {"snr_db": 30.0, "fading": {"model": "none"}, "rate": {"model": "nr_mcs"}},
        "medium": {"packet_size": "transport_block", "max_attempts": 16},
        "round": {"deadline_s": 100.0},
        "workload": {"algorithm": "none", "payload_bits": 1_000_000, "downlink_bits": 0, "work_flop": 0.0},
    }
    scn = scenario(**cfg)
    engine = Engine(scn, workloads.create("none", scn.workload, 1, scn.seed))
    # Execute
    res = engine.run()
    # Assert: at 30 dB link adaptation picks MCS 27 (Qm 6, R 910/1024); on 1,728 REs TS 38.214 gives
    # N_info = 9214.1 -> n = 8, N'_info = 9216 > 8424 -> C = 2, TBS = 16 ceil(9240 / 16) - 24 = 9224.
    # 1 Mbit is then 109 packets, each sent once (its TBLER at 30 dB is below 1e-3).
    assert int(engine.uplink.rate.mcs_index(10 ** 3.0)) == 27
    assert engine.packet_bits(engine.uplink, 0) == 9224
    attempts = res.client_column("attempts")
    assert attempts.min() >= math.ceil(1_000_000 / 9224) == 109
    assert attempts.mean() <= 109 * 1.01
