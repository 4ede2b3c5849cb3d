"""Gilbert-Elliott chains against their closed forms (Monte Carlo, seeded, stated tolerances)."""

import numpy as np
import pytest

from channels.gilbert_elliott import GilbertElliott


def run(p, r, h_good, h_bad, clients=2000, draws=400, seed=0):
    ge = GilbertElliott([np.random.default_rng([seed, i]) for i in range(clients)], p, r, h_good, h_bad)
    states = np.empty((draws, clients), dtype=bool)
    losses = np.empty((draws, clients))
    for k in range(draws):
        losses[k] = ge.step()
        states[k] = ge.bad
    return states, losses


@pytest.mark.parametrize("p, r", [(0.05, 0.5), (0.2, 0.2), (0.01, 0.1)])
def test_stationary_bad_fraction_and_loss_rate(p, r):
    states, losses = run(p, r, 0.01, 0.8)
    pi_bad = p / (p + r)
    # 800k chain-steps, correlated within a chain: the tolerance allows ~10 effective-sample sigmas.
    assert states.mean() == pytest.approx(pi_bad, abs=0.01)
    assert losses.mean() == pytest.approx((1 - pi_bad) * 0.01 + pi_bad * 0.8, abs=0.01)
    # Stationary from the first draw on (the chain starts in its stationary law).
    assert states[0].mean() == pytest.approx(pi_bad, abs=4 * np.sqrt(pi_bad * (1 - pi_bad) / states.shape[1]))


@pytest.mark.parametrize("r", [0.5, 0.2, 0.05])
def test_mean_burst_length_is_one_over_p_leave_bad(r):
    states, _ = run(0.05, r, 0.0, 1.0, clients=1000, draws=2000, seed=1)
    lengths = []
    for col in states.T:
        # Runs of Bad that start and end inside the window (no censoring).
        edges = np.flatnonzero(np.diff(col.astype(np.int8)))
        starts = edges[col[edges + 1]] + 1
        ends = edges[~col[edges + 1]] + 1
        for s in starts:
            later = ends[ends > s]
            if later.size:
                lengths.append(later[0] - s)
    lengths = np.array(lengths)
    assert lengths.mean() == pytest.approx(1 / r, rel=0.03)


def test_bad_parameters_fail_loudly():
    with pytest.raises(ValueError, match="p_enter_bad"):
        GilbertElliott([np.random.default_rng(0)], 1.5, 0.5)
    with pytest.raises(ValueError, match="never mix"):
        GilbertElliott([np.random.default_rng(0)], 0.0, 0.0)
