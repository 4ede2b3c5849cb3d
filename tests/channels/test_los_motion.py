"""LOS state along a moving client's path against the Gaussian-copula closed form."""

import numpy as np
from scipy.special import ndtri
from scipy.stats import multivariate_normal

from channels import RadioConfig, build_radio
from channels.config import FadingConfig, MobilityConfig, PathLossConfig, PlacementConfig
from channels.tr38901 import UMi, tr38901_los_probability


class Streams:
    """One generator per (purpose, client) from a root seed, as a run's seed tree gives them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def clients(self, purpose, num_clients):
        key = sum(map(ord, purpose))
        return [np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(key, i))) for i in range(num_clients)]


def test_los_state_keeps_its_correlation_over_the_distance_moved():
    # Prepare: 1,000 UMi clients at 10 m/s; after 5 s each has moved up to 50 m (its straight-line
    # displacement d, reflections at the edge included). The LOS state is Phi(z) < P_LOS with z AR(1) in
    # displacement, rho = exp(-d / 50 m), so P(same state) = Phi2(a1, a2; rho) + Phi2(-a1, -a2; rho),
    # a = Phi^-1(P_LOS) at the two distances.
    cfg = RadioConfig(
        num_clients=1000,
        placement=PlacementConfig(kind="uniform_disc", radius_m=300.0, min_distance_m=10.0),
        mobility=MobilityConfig(kind="constant_velocity", speed_mps=10.0),
        pathloss=PathLossConfig(model="umi", los="auto"),
        fading=FadingConfig(model="none"),
    )
    radio = build_radio(cfg, Streams(0))
    radio.advance(0.0)
    xy0, los0 = radio.drop.xy_m.copy(), radio.los.copy()
    p0 = tr38901_los_probability("umi", radio.drop.distance_2d_m, radio.drop.ue_height_m, "mixed")
    # Execute
    radio.advance(5.0)
    # Assert
    p1 = tr38901_los_probability("umi", radio.drop.distance_2d_m, radio.drop.ue_height_m, "mixed")
    rho = np.exp(-np.hypot(*(radio.drop.xy_m - xy0).T) / UMi.los_correlation_m)
    a0, a1 = ndtri(np.clip(p0, 1e-12, 1 - 1e-12)), ndtri(np.clip(p1, 1e-12, 1 - 1e-12))
    same = np.array([
        multivariate_normal.cdf([x, y], cov=[[1, r], [r, 1]]) + multivariate_normal.cdf([-x, -y], cov=[[1, r], [r, 1]])
        for x, y, r in zip(a0, a1, rho)
    ])
    observed = float(np.mean(los0 == radio.los))
    sd = np.sqrt(np.sum(same * (1 - same))) / same.shape[0]
    assert abs(observed - same.mean()) < 4 * sd
    assert same.mean() < 0.95  # the states do change: not frozen at the drop
    assert np.mean(los0 == radio.los) > np.mean(p1 * p0 + (1 - p1) * (1 - p0))  # and not redrawn independently


def test_static_clients_keep_their_drawn_los_state():
    radio = build_radio(RadioConfig(num_clients=50, pathloss=PathLossConfig(model="umi", los="auto")), Streams(0))
    before = radio.los.copy()
    radio.advance(100.0)
    assert (radio.los == before).all()
