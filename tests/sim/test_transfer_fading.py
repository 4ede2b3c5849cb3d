"""Fading within a transfer, against the two closed-form limits.

One round, N clients on ``fdma_static`` (each owns B/N with its power in it,
mean share SNR rho), Rayleigh fading, a payload that needs rate R = bits / T:

- slow fading (coherence time beyond the round), or ``within_transfer: frozen``:
  a transfer sees one fade, so it misses with the outage probability
  P(b log2(1 + rho g) < R) = 1 - exp(-(2^(R/b) - 1) / rho);
- fast fading (hundreds of coherence times per transfer): the rate averages
  to the ergodic capacity b e^(1/rho) E1(1/rho) / ln 2, so (almost) nobody
  misses below it and (almost) everybody above it.
"""

import math

import numpy as np
import pytest
from scipy import special

import workloads
from sim.core.engine import Engine
from tests.conftest import scenario

N = 1500
BW_HZ = 20e6
SHARE_HZ = BW_HZ / N
RHO = 10.0  # mean SNR on a share (10 dB)
DEADLINE_S = 2.0


def outage(rate_bps):
    return 1 - math.exp(-(2 ** (rate_bps / SHARE_HZ) - 1) / RHO)


def ergodic_bps():
    return SHARE_HZ * math.exp(1 / RHO) * special.exp1(1 / RHO) / math.log(2)


def miss_fraction(rate_bps, doppler_hz, within="auto", doppler_model="sum_of_sinusoids"):
    # Mean full-band SNR rho / N: power concentration in B/N brings it back to rho.
    data = {
        "seed": 4,
        "rounds": 1,
        "clients": {"count": N, "placement": {"kind": "fixed", "distances_m": [10.0] * N}, "device": {"speed_sigma": 0}},
        "cell": {"bandwidth_mhz": BW_HZ / 1e6},
        "channel": {
            "snr_db": 10 * math.log10(RHO / N),
            "fading": {"model": "rayleigh", "doppler_hz": doppler_hz, "within_transfer": within, "doppler_model": doppler_model},
            "rate": {"max_se_bps_hz": None},
        },
        # Fluid shares: the closed forms are worked on B/N, narrower than one PRB here.
        "medium": {"uplink_sharing": "fdma_static", "packet_error_rate": 0.0, "min_allocation": "none"},
        "round": {"deadline_s": DEADLINE_S},
        # The upload has the whole deadline less two propagation delays (10 m: 67 ns).
        "workload": {"algorithm": "none", "payload_bits": int(rate_bps * DEADLINE_S * (1 - 1e-6)), "downlink_bits": 0, "work_flop": 0},
    }
    scn = scenario(**data)
    res = Engine(scn, workloads.create("none", scn.workload, N, scn.seed)).run()
    return float(np.mean(res.client_column("outcome") != "delivered"))


@pytest.mark.parametrize("fraction_of_ergodic", [0.6, 0.9])
def test_slow_fading_misses_with_the_outage_probability(fraction_of_ergodic):
    # f_d = 0.01 Hz: T_c = 42 s, beyond the 2 s round: one fade per transfer.
    rate = fraction_of_ergodic * ergodic_bps()
    p = outage(rate)
    assert miss_fraction(rate, 0.01) == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / N))


def test_frozen_fading_at_175_hz_is_the_quasi_static_outage():
    # The audited behaviour, still available as within_transfer: frozen.
    rate = 0.9 * ergodic_bps()
    p = outage(rate)
    assert miss_fraction(rate, 175.0, within="frozen") == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / N))


@pytest.mark.parametrize("doppler_model", ["sum_of_sinusoids", "ar1"])
def test_fast_fading_averages_to_the_ergodic_rate(doppler_model):
    # f_d = 175 Hz: T_c = 2.4 ms, about 830 coherence blocks in a 2 s transfer.
    assert outage(0.9 * ergodic_bps()) > 0.2  # what a frozen channel would miss
    assert miss_fraction(0.9 * ergodic_bps(), 175.0, doppler_model=doppler_model) < 0.01
    assert miss_fraction(1.1 * ergodic_bps(), 175.0, doppler_model=doppler_model) > 0.99
