"""Processor sharing in virtual time (sim.core.linear_share), by hand and against the event-by-event fluid."""

import math

import numpy as np
import pytest
import simpy

from channels.rate import ShannonRate
from sim.core import fluid
from sim.core.linear_share import LINEAR_ENTER_MARGIN, LinearShare
from sim.core.medium import make_medium


def test_equal_shares_by_hand():
    # Prepare: three transfers at 1 Mbit/s alone, 1, 2 and 3 Mbit, all at 0 s.
    share = LinearShare()
    share.advance(0.0)
    share.admit(["a", "b", "c"], [1e6, 2e6, 3e6], [1e6, 1e6, 1e6])
    ends = {}
    now = 0.0
    # Execute: wake at each completion, as a driver does.
    while share.n:
        now += share.step_s()
        share.advance(now)
        for key in share.complete(now):
            ends[key] = now
    # Assert: thirds until a is through at 3 s, halves until b at 5 s, c alone until 6 s.
    assert ends == pytest.approx({"a": 3.0, "b": 5.0, "c": 6.0}, rel=1e-15)


def test_late_start_cut_and_remove():
    # Prepare: 4 Mbit at 2 Mbit/s from 0 s; 1 Mbit at 1 Mbit/s from 1 s; a dead link from 1 s.
    share = LinearShare()
    share.advance(0.0)
    share.admit(["x"], [4e6], [2e6])
    share.advance(1.0)  # x alone: 2 Mbit through, 2 left
    share.admit(["y", "dead"], [1e6, 5e5], [1e6, 0.0])
    # Execute: three share from 1 s; x moves at 2/3 Mbit/s, y at 1/3.
    assert share.step_s() == pytest.approx(3.0)  # y's 1 Mbit at 1/3 Mbit/s
    share.advance(2.5)
    # Assert: at 2.5 s y has 0.5 Mbit through, x 2 + 1 Mbit; the dead link nothing.
    assert share.remove("y") == pytest.approx(0.5e6)  # of 1 Mbit, half left
    assert share.n == 2
    left = dict(share.cut())
    assert left == pytest.approx({"x": 1e6, "dead": 5e5})
    assert share.n == 0 and share.step_s() == math.inf


def test_simultaneous_completions_come_in_start_order():
    share = LinearShare()
    share.advance(0.0)
    share.admit([2, 0, 1], [1e6, 1e6, 1e6], [1e6, 1e6, 1e6])
    now = share.step_s()
    share.advance(now)
    assert share.complete(now) == [2, 0, 1]


def test_complete_all_makes_the_wake_ups_one_by_one():
    # Prepare: two identical sets of 300 transfers late in a long run (a clock of 1e4 s, whose rounding the
    # completion test must absorb), with equal tags, a dead link, and admissions in two groups (the second
    # large enough to be heapified, the first pushed one by one).
    rng = np.random.default_rng(3)
    bits = rng.uniform(1e4, 1e6, 300)
    bits[:40] = 5e5
    rates = rng.uniform(1e6, 5e6, 300)
    rates[:40] = 2e6
    rates[25:40] *= 1.0 + 4e-16  # tags a rounding below their elders': through at the same wake, popped first
    rates[7] = 0.0
    bits, rates = bits.tolist(), rates.tolist()
    t0 = 1e4
    sets = [LinearShare(t0), LinearShare(t0)]
    for share in sets:
        share.advance(t0)
        share.admit(list(range(10)), bits[:10], rates[:10])
        share.advance(t0 + 0.001)
        share.admit(list(range(10, 300)), bits[10:], rates[10:])
    limit = t0 + 60.0
    # Execute: one driver wakes at now + step_s() as the SimPy media do; the other asks for all at once.
    one_by_one, times = [], []
    share, now = sets[0], t0 + 0.001
    while math.isfinite(share.step_s()) and now + max(share.step_s(), 0.0) <= limit:
        now = now + max(share.step_s(), 0.0)
        share.advance(now)
        one_by_one.append(share.complete(now))
        times.append(now)
    groups, at = sets[1].complete_all(t0 + 0.001, limit)
    # Assert: the same completions at the same float times, with the same clock and what is left after; some
    # wake-ups end several transfers.
    assert groups == one_by_one and at == times
    assert any(len(g) > 1 for g in groups) and 0 < sets[1].n < 290
    assert sets[1].u == share.u and sets[1].t_s == share.t_s
    assert sets[1].cut() == share.cut()


def test_complete_all_against_processor_sharing_in_closed_form():
    # Prepare: 60 transfers admitted together at 5 s, each with its own bits and full-band rate.
    rng = np.random.default_rng(11)
    bits, rates = rng.uniform(1e4, 1e6, 60), rng.uniform(1e6, 5e6, 60)
    share = LinearShare(5.0)
    share.advance(5.0)
    share.admit(list(range(60)), bits.tolist(), rates.tolist())
    # Execute
    groups, at = share.complete_all(5.0, math.inf)
    # Assert: egalitarian sharing from a common start ends them in order of b_i / R_i, the k-th (from 0) after
    # the (k-1)-th by (F_k - F_(k-1)) (60 - k) seconds (Kleinrock vol. 2, 4.4).
    tags = bits / rates
    order = np.argsort(tags)
    ends = 5.0 + np.cumsum(np.diff(np.concatenate([[0.0], tags[order]])) * (60 - np.arange(60)))
    assert [g[0] for g in groups] == order.tolist() and all(len(g) == 1 for g in groups)
    assert at == pytest.approx(ends.tolist(), rel=1e-12)
    assert share.n == 0


def _ofdma(bandwidth_hz: float, concentration: bool, n: int, rng: np.random.Generator, inr: bool = False):
    medium = make_medium(simpy.Environment(), bandwidth_hz, "ofdma", ShannonRate(), concentration)
    snr = 10 ** rng.uniform(-1.0, 3.0, n)
    snr[rng.integers(0, n, 3)] = 0.0  # links that cannot move
    medium.begin_round(snr, n)
    if inr:
        medium.set_interference(10 ** rng.uniform(-2.0, 0.5, n))
    medium.set_min_allocation(bandwidth_hz / 20)
    return medium


@pytest.mark.parametrize("inr", [False, True])
def test_lists_and_arrays_make_the_same_walk(monkeypatch, inr):
    # Prepare: 200 uplink transfers with staggered and simultaneous starts, some cut by the close.
    rng = np.random.default_rng(7)
    n = 200
    medium = _ofdma(20e6, True, n, rng, inr)
    start = np.sort(np.round(rng.uniform(0.0, 2.0, n), 2))  # rounding makes groups that start together
    bits = rng.uniform(1e5, 3e6, n)
    bits[:5] = 0.0
    clients = rng.permutation(n)
    outs = []
    # Execute: arrays throughout, lists throughout, and switching between them on the way.
    for limit in (0, 10**6, 6):
        monkeypatch.setattr(fluid, "LIST_MAX", limit)
        outs.append(fluid.fluid_transfers(medium, clients, start, bits, 2.5))
    # Assert: the same floats, bit for bit, and the walk had both completions and cuts.
    for out in outs[1:]:
        assert out.end_s.tobytes() == outs[0].end_s.tobytes()
        assert out.sent_bits.tobytes() == outs[0].sent_bits.tobytes()
        assert out.seq.tolist() == outs[0].seq.tolist()
    assert np.isfinite(outs[0].end_s).sum() > 20 and np.isinf(outs[0].end_s).sum() > 20


def test_virtual_time_matches_remaining_bits():
    # Prepare: a downlink (constant power density) walked in virtual time, and the same transfers
    # walked event by event on remaining bits (arrays), which the medium uses with fading blocks.
    rng = np.random.default_rng(11)
    n = 300
    medium = _ofdma(50e6, False, n, rng)
    assert medium.linear
    start = np.sort(rng.uniform(0.0, 1.0, n))
    start[:100] = 0.0
    bits = rng.uniform(1e5, 4e6, n)
    clients = np.arange(n)
    # Execute
    virtual = fluid.fluid_transfers(medium, clients, start, bits, 3.0)
    medium.linear = False
    remaining = fluid.fluid_transfers(medium, clients, start, bits, 3.0)
    # Assert: the same schedule to rounding, the same completions and order.
    done = np.isfinite(remaining.end_s)
    assert np.array_equal(np.isfinite(virtual.end_s), done) and 50 < done.sum() < n - 20
    np.testing.assert_allclose(virtual.end_s[done], remaining.end_s[done], rtol=1e-12)
    np.testing.assert_allclose(virtual.sent_bits, remaining.sent_bits, rtol=1e-9)
    assert virtual.seq.tolist() == remaining.seq.tolist()


def _capped_uplink(env, n: int, seed: int, inr: bool):
    rng = np.random.default_rng(seed)
    medium = make_medium(env, 5e6, "ofdma", ShannonRate(), True)
    medium.begin_round(10 ** rng.uniform(-1.0, 3.0, n), n)
    if inr:
        medium.set_interference(10 ** rng.uniform(-2.0, 0.5, n))
    medium.set_min_allocation(360e3)  # 13.9 PRBs: capped from 14 sharers, virtual time from 14 + the margin
    return medium, rng


def _on_events(n, seed, inr, start, bits, clients, limit):
    """End times and bits sent of the same transfers on the SimPy medium: one process per transfer."""
    env = simpy.Environment()
    medium, _ = _capped_uplink(env, n, seed, inr)
    ends, transfers = {}, {}

    def transfer(i):
        yield env.timeout(start[i])
        transfers[i] = t = medium.transmit(int(clients[i]), float(bits[i]))
        yield t.done
        ends[i] = env.now

    for i in range(n):
        env.process(transfer(i))
    env.run(until=limit)
    medium.abort()
    end = np.array([ends.get(i, math.inf) for i in range(n)])
    sent = np.array([transfers[i].sent_bits if i in transfers else 0.0 for i in range(n)])
    return end, sent


@pytest.mark.parametrize("inr", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_capped_uplink_walk_is_the_event_path(seed, inr, monkeypatch):
    # Prepare: 120 uplink transfers in 5 MHz, many at once (starts rounded to 0.1 s), some cut at 3 s:
    # the set goes into virtual time past 46 sharers and back below 14, several times.
    n = 120
    medium, rng = _capped_uplink(simpy.Environment(), n, seed, inr)
    assert medium.capped_regime() == (14 + LINEAR_ENTER_MARGIN, 14)
    start = np.sort(np.round(rng.uniform(0.0, 2.0, n), 1))
    bits = rng.uniform(1e5, 2e6, n)
    clients = rng.permutation(n)
    entered = []
    to_virtual = fluid._Walk._to_virtual
    monkeypatch.setattr(fluid._Walk, "_to_virtual", lambda self, now: entered.append(now) or to_virtual(self, now))
    # Execute
    walk = fluid.fluid_transfers(medium, clients, start, bits, 3.0)
    assert entered, "the walk never went into virtual time"
    end, sent = _on_events(n, seed, inr, start, bits, clients, 3.0)
    # Assert: the same completion times, bit for bit (a completion at the close is not seen by the events).
    seen = np.where(walk.end_s < 3.0, walk.end_s, math.inf)
    assert seen.tobytes() == end.tobytes()
    cut = ~np.isfinite(walk.end_s)
    assert cut.sum() > 5 and walk.sent_bits[cut].tobytes() == sent[cut].tobytes()


def test_capped_virtual_time_keeps_the_schedule(monkeypatch):
    # Prepare: the same capped uplink walked with and without the virtual-time form.
    entered = []
    to_virtual = fluid._Walk._to_virtual
    monkeypatch.setattr(fluid._Walk, "_to_virtual", lambda self, now: entered.append(now) or to_virtual(self, now))
    n = 150
    medium, rng = _capped_uplink(simpy.Environment(), n, 9, False)
    start = np.sort(rng.uniform(0.0, 1.0, n))
    bits = rng.uniform(1e5, 2e6, n)
    clients = np.arange(n)
    # Execute
    virtual = fluid.fluid_transfers(medium, clients, start, bits, 4.0)
    assert entered, "the walk never went into virtual time"
    medium.capped_regime = lambda: None
    remaining = fluid.fluid_transfers(medium, clients, start, bits, 4.0)
    # Assert: the same schedule to rounding.
    done = np.isfinite(remaining.end_s)
    assert np.array_equal(np.isfinite(virtual.end_s), done) and done.sum() > 50
    np.testing.assert_allclose(virtual.end_s[done], remaining.end_s[done], rtol=1e-10)
    np.testing.assert_allclose(virtual.sent_bits, remaining.sent_bits, rtol=1e-8)
