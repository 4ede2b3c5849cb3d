"""ARQ draws from uniforms (sim.core.arq): one client or all at once alike, and the closed forms of the model."""

import numpy as np
import pytest

from sim.core.arq import ArqTables, arq_many, arq_one, arq_width
from sim.core.medium import ArqOutcome


def tables(p, m, rows, seed=0):
    u = np.random.default_rng(seed).random((rows, arq_width(m)))
    return ArqTables(np.broadcast_to(np.asarray(p, dtype=float), (rows,)).copy(), m, u)


@pytest.mark.parametrize("m", [1, 2, 4, 7])
def test_one_client_and_all_at_once_agree(m):
    # Prepare: mixed sizes (none, one short packet, exact multiples, thousands of packets) and loss
    # probabilities from 0 to 1, each client its own.
    rng = np.random.default_rng(m)
    n = 3000
    p = rng.choice([0.0, 1e-4, 0.02, 0.1, 0.3, 0.6, 0.95, 1.0], n)
    bits = rng.choice([0, 1, 999, 1000, 1001, 25_000, 200_000, 4_000_000], n)
    t = ArqTables(p, m, rng.random((n, arq_width(m))))
    # Execute
    tries, air, ok = arq_many(bits, 1000, t)
    # Assert
    for i in range(n):
        assert arq_one(int(bits[i]), 1000, t, i) == ArqOutcome(int(tries[i]), int(air[i]), bool(ok[i])), i


def test_fixed_cases():
    t = ArqTables(np.array([0.0, 1.0, 0.5]), 3, np.full((3, 5), 0.5))
    assert arq_one(2500, 1000, t, 0) == ArqOutcome(3, 2500, True)
    # A dead link: the first packet is tried M times.
    assert arq_one(2500, 1000, t, 1) == ArqOutcome(3, 3000, False)
    assert arq_one(500, 1000, t, 1) == ArqOutcome(3, 1500, False)
    assert arq_one(0, 1000, t, 2) == ArqOutcome(0, 0, True)


def truncated_geometric(p, m):
    """Mean and variance of one packet's tries given it got through within m tries."""
    t = np.arange(1, m + 1)
    w = (1 - p) * p ** (t - 1) / (1 - p**m)
    mean = (t * w).sum()
    return mean, (t**2 * w).sum() - mean**2


@pytest.mark.parametrize("p,m,packets", [(0.1, 3, 50), (0.3, 4, 400), (0.05, 4, 3000)])
def test_matches_the_model_closed_forms(p, m, packets):
    # Prepare: many independent payloads of `packets` full packets.  The second and third cases
    # put n q far above 30: the binomial search starts at the mode.
    rows = 40_000
    t = tables(p, m, rows, seed=packets)
    # Execute
    tries, air, ok = arq_many(np.full(rows, packets * 1000), 1000, t)
    # Assert: P(ok) = (1 - p^M)^packets; given ok, the tries are a sum of truncated geometrics.
    p_ok = (1 - p**m) ** packets
    assert abs(ok.mean() - p_ok) < 4.5 * np.sqrt(p_ok * (1 - p_ok) / rows) + 1e-9
    mean1, var1 = truncated_geometric(p, m)
    got = tries[ok]
    assert abs(got.mean() - packets * mean1) < 4.5 * np.sqrt(packets * var1 / got.size)
    assert got.var() == pytest.approx(packets * var1, rel=0.06)
    np.testing.assert_array_equal(air[ok], got * 1000)
    # A failed payload stops at its failing packet: M tries of it, and never more tries than a whole success.
    bad = ~ok
    if bad.any():
        assert (tries[bad] >= m).all()


def test_first_failure_is_geometric():
    # P(the payload fails) = 1 - (1 - p^M)^npk for any npk: 20 packets, p^M = 0.01.
    p, m, rows = 0.1, 2, 50_000
    t = tables(p, m, rows, seed=9)
    _, _, ok = arq_many(np.full(rows, 20_000), 1000, t)
    p_fail = 1 - 0.99**20
    assert abs((~ok).mean() - p_fail) < 4.5 * np.sqrt(p_fail * (1 - p_fail) / rows)


def test_bad_error_rate_is_refused():
    with pytest.raises(ValueError, match="error_rate"):
        ArqTables(np.array([0.1, 1.5]), 3, np.zeros((2, 5)))
