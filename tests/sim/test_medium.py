"""Bandwidth sharing and ARQ against hand-worked timelines and closed forms."""

import math

import numpy as np
import pytest
import simpy

from channels.proportional_fair import pf_shares
from channels.rate import ShannonRate
from sim.core.medium import MultiCellMedium, arq_attempts, make_medium

B = 1e6  # 1 MHz keeps the hand arithmetic readable


def run_transfers(sharing, snr, starts_bits, power_concentration=False, expected=None, until=None):
    """Start (client, start_s, bits) transfers; return {client: (end_s, completed)}."""
    env = simpy.Environment()
    medium = make_medium(env, B, sharing, ShannonRate(), power_concentration)
    medium.begin_round(np.asarray(snr, dtype=float), expected or len(starts_bits))
    out = {}

    def sender(client, start_s, bits):
        yield env.timeout(start_s)
        t = medium.transmit(client, bits)
        out[client] = t
        yield t.done

    for c, s, b in starts_bits:
        env.process(sender(c, s, b))
    if until is not None:
        env.run(until=until)
        medium.abort()
    else:
        env.run()
    return {c: (t.end_s, t.completed) for c, t in out.items()}


def test_fdma_static_gives_each_of_n_a_fixed_share_with_power_concentration():
    ends = run_transfers("fdma_static", [1.0, 3.0], [(0, 0.0, 1e6), (1, 0.0, 1e6)], power_concentration=True)
    # Each owns B/2 and puts its power there: rate = (B/2) log2(1 + 2 s).
    assert ends[0][0] == pytest.approx(1e6 / (0.5e6 * math.log2(3)))
    assert ends[1][0] == pytest.approx(1e6 / (0.5e6 * math.log2(7)))


def test_tdma_serves_first_come_first_served_over_the_whole_band():
    # Full-band rates: log2(1 + 3) = 2 Mbit/s and log2(1 + 1) = 1 Mbit/s.
    ends = run_transfers("tdma", [3.0, 1.0], [(0, 0.0, 2e6), (1, 0.5, 1e6)])
    assert ends[0][0] == pytest.approx(1.0)
    assert ends[1][0] == pytest.approx(2.0)  # waits for client 0, then 1 s alone


def test_tdma_airtime_excludes_the_wait_for_the_turn():
    env = simpy.Environment()
    medium = make_medium(env, B, "tdma", ShannonRate(), False)
    medium.begin_round(np.array([3.0, 1.0]), 2)
    first, second = medium.transmit(0, 2e6), medium.transmit(1, 1e6)
    env.run()
    assert (first.service_s, first.end_s, first.airtime_s) == pytest.approx((0.0, 1.0, 1.0))
    assert (second.start_s, second.service_s, second.end_s, second.airtime_s) == pytest.approx((0.0, 1.0, 2.0, 1.0))


@pytest.mark.parametrize("sharing", ["fdma_static", "ofdma", "tdma"])
def test_a_cut_transfer_knows_how_many_bits_it_sent(sharing):
    env = simpy.Environment()
    medium = make_medium(env, B, sharing, ShannonRate(), False)
    medium.begin_round(np.array([1.0]), 1)  # 1 Mbit/s alone
    t = medium.transmit(0, 3e6)
    env.run(until=1.25)
    medium.abort()
    assert t.cut and t.sent_bits == pytest.approx(1.25e6) and t.airtime_s == pytest.approx(1.25)


def test_ofdma_reshares_the_band_when_transfers_start_and_end():
    # Alone: 2 Mbit/s. Client 0 sends 1 Mbit alone in [0, 0.5], then both get
    # 1 Mbit/s: client 1 (1 Mbit) ends at 1.5 s with client 0 at 1 Mbit left,
    # which it sends alone at 2 Mbit/s by 2.0 s.
    ends = run_transfers("ofdma", [3.0, 3.0], [(0, 0.0, 3e6), (1, 0.5, 1e6)])
    assert ends[1][0] == pytest.approx(1.5)
    assert ends[0][0] == pytest.approx(2.0)


def test_ofdma_admits_simultaneous_starts_together_with_power_concentration():
    ends = run_transfers("ofdma", [1.0] * 3, [(c, 0.0, 1e6) for c in range(3)], power_concentration=True)
    expected = 1e6 / ((B / 3) * math.log2(1 + 3 * 1.0))
    assert all(e == pytest.approx(expected) for e, _ in ends.values())


def test_proportional_fair_with_equal_snrs_is_ofdma():
    starts = [(0, 0.0, 3e6), (1, 0.5, 1e6), (2, 0.5, 2e6)]
    pf = run_transfers("proportional_fair", [3.0] * 3, starts, power_concentration=True)
    eq = run_transfers("ofdma", [3.0] * 3, starts, power_concentration=True)
    for c in pf:
        assert pf[c][0] == pytest.approx(eq[c][0], rel=1e-12)


def test_proportional_fair_downlink_is_an_equal_split():
    # Constant power density: r_i(b) = b log2(1 + s_i) is linear in b, so
    # maximising sum log r_i is maximising sum log b_i: equal shares.
    starts = [(0, 0.0, 3e6), (1, 0.5, 1e6), (2, 0.2, 2e6)]
    pf = run_transfers("proportional_fair", [0.5, 3.0, 40.0], starts)
    eq = run_transfers("ofdma", [0.5, 3.0, 40.0], starts)
    assert pf == eq


def test_proportional_fair_uplink_timeline():
    # Both start at 0 with 1 Mbit; shares b from the PF split, rates
    # b log2(1 + s B / b). The faster ends first; the other then has the band.
    s = np.array([1.0, 30.0])
    b, _ = pf_shares(s * B, B)
    r = b * np.log2(1 + s * B / b)
    first = int(np.argmax(r))
    t1 = 1e6 / r[first]
    left = 1e6 - r[1 - first] * t1
    t2 = t1 + left / (B * math.log2(1 + s[1 - first]))
    ends = run_transfers("proportional_fair", s, [(0, 0.0, 1e6), (1, 0.0, 1e6)], power_concentration=True)
    assert ends[first][0] == pytest.approx(t1, rel=1e-12)
    assert ends[1 - first][0] == pytest.approx(t2, rel=1e-12)
    assert b[1] > b[0]  # the strong client holds more band


def test_proportional_fair_budget_is_the_split_among_a_cells_clients():
    env = simpy.Environment()
    cells = [make_medium(env, B, "proportional_fair", ShannonRate(), True) for _ in range(2)]
    site = np.array([0, 1, 0, 0, 1])
    medium = MultiCellMedium(cells, site)
    snr = np.array([1.0, 5.0, 20.0, 0.2, 50.0])
    medium.begin_round(snr, 5)
    for c in (0, 1):
        own = np.flatnonzero(site == c)
        b, _ = pf_shares(snr[own] * B, B)
        expected = b * np.log2(1 + snr[own] * B / b)
        got = [medium.expected_rate_bps(int(i)) for i in own]
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("sharing", ["fdma_static", "ofdma", "tdma", "proportional_fair"])
def test_abort_cuts_unfinished_transfers_at_the_deadline(sharing):
    # 1 Mbit/s alone; a 3 Mbit transfer cannot finish by t = 1.
    ends = run_transfers(sharing, [1.0], [(0, 0.0, 3e6)], expected=1, until=1.0)
    assert ends[0] == (1.0, False)


def test_zero_bits_complete_immediately():
    ends = run_transfers("ofdma", [1.0], [(0, 0.25, 0)])
    assert ends[0] == (0.25, True)


# ----------------------------------------------------------------------------- ARQ


def draws(bits, p, m, n=60_000, seed=0, packet_bits=100):
    rng = np.random.default_rng(seed)
    return [arq_attempts(bits, packet_bits, p, m, rng) for _ in range(n)]


@pytest.mark.parametrize("p, m", [(0.3, 3), (0.1, 4), (0.5, 1), (0.6, 8)])
def test_expected_tries_per_packet_closed_form(p, m):
    # One packet: E[min(G, M)] = (1 - p^M) / (1 - p), G geometric.
    tries = np.array([o.attempts for o in draws(100, p, m)])
    expected = (1 - p**m) / (1 - p)
    assert tries.mean() == pytest.approx(expected, rel=0.01)
    assert np.mean([not o.ok for o in draws(100, p, m, seed=1)]) == pytest.approx(p**m, abs=0.006)


def test_multi_packet_success_probability_and_conditional_tries():
    p, m, npk = 0.3, 3, 10
    out = draws(npk * 100, p, m, seed=2)
    ok = np.array([o.ok for o in out])
    assert ok.mean() == pytest.approx((1 - p**m) ** npk, abs=0.01)
    # Given success, each packet's tries are geometric truncated at M:
    # E[T | T <= M] = 1/(1-p) - M p^M / (1 - p^M).
    per_packet = 1 / (1 - p) - m * p**m / (1 - p**m)
    tries_ok = np.array([o.attempts for o in out])[ok]
    assert tries_ok.mean() == pytest.approx(npk * per_packet, rel=0.01)


def test_arq_exact_bits_without_errors_and_with_certain_loss():
    rng = np.random.default_rng(0)
    clean = arq_attempts(25_000, 12_000, 0.0, 4, rng)
    assert (clean.attempts, clean.air_bits, clean.ok) == (3, 25_000, True)
    lost = arq_attempts(25_000, 12_000, 1.0, 4, rng)
    assert (lost.attempts, lost.air_bits, lost.ok) == (4, 48_000, False)
    assert arq_attempts(0, 12_000, 0.5, 4, rng).air_bits == 0


def test_arq_air_bits_count_the_short_last_packet_once_per_try():
    # 250 bits in packets of 100: the last packet carries 50 bits.
    # When all three packets are sent, air bits = 100 (tries - tries_last) + 50 tries_last,
    # so attempts * 100 - air_bits = 50 tries_last, with 1 <= tries_last <= 5.
    # When the payload fails at packet 1 or 2, the short packet is never sent.
    outcomes = draws(250, 0.4, 5, n=4000, seed=3)
    for o in outcomes:
        shortfall = o.attempts * 100 - o.air_bits
        assert shortfall in ((50, 100, 150, 200, 250) if o.ok else (0, 250))
    assert any(not o.ok for o in outcomes) and any(o.attempts * 100 - o.air_bits > 50 for o in outcomes if o.ok)


def test_arq_rejects_bad_probability():
    with pytest.raises(ValueError, match="error_rate"):
        arq_attempts(100, 10, 1.5, 3, np.random.default_rng(0))
