"""channels.build_radio from a RadioConfig alone: the link budget by hand, streams asked by purpose."""

import math

import numpy as np
import pytest

from channels import RadioConfig, build_radio
from channels.config import CellConfig, FadingConfig, MobilityConfig, PathLossConfig, PlacementConfig


class Streams:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def clients(self, purpose, num_clients):
        self.asked.append(purpose)
        return [np.random.default_rng([7, len(purpose), i]) for i in range(num_clients)]


def test_free_space_link_budget_by_hand():
    # Prepare: two clients on the x axis at 100 m and 1 km, antennas 10 m and 1.5 m, 2 GHz, 1 MHz, NF 5 dB.
    cfg = RadioConfig(
        num_clients=2,
        placement=PlacementConfig(kind="fixed", distances_m=(100.0, 1000.0)),
        cell=CellConfig(carrier_hz=2e9, bandwidth_hz=1e6, noise_figure_db=5.0, ue_tx_power_dbm=20.0,
                        bs_tx_power_dbm=40.0, bs_antenna_gain_dbi=3.0),
        pathloss=PathLossConfig(model="free_space"),
        fading=FadingConfig(model="none"),
    )
    # Execute
    radio = build_radio(cfg, Streams())
    # Assert: SNR = P + G - 20 log10(4 pi d f / c) - (-174 + 60 + 5) dBm, d the 3D distance.
    d3 = np.hypot([100.0, 1000.0], 8.5)
    fspl = 20 * np.log10(4 * math.pi * d3 * 2e9 / 299_792_458.0)
    np.testing.assert_allclose(radio.channel.mean_snr_ul_db, 20.0 + 3.0 - fspl + 109.0, atol=1e-9)
    np.testing.assert_allclose(radio.channel.mean_snr_dl_db, 40.0 + 3.0 - fspl + 109.0, atol=1e-9)
    np.testing.assert_allclose(radio.coupling_db, fspl - 3.0, atol=1e-9)
    ul, _ = radio.link_states(0.0, np.zeros((2, 2)))
    np.testing.assert_allclose(ul.latency_s, d3 / 299_792_458.0)


def test_static_clients_draw_no_motion_streams_and_moving_ones_move():
    # Prepare
    still, moving = Streams(), Streams()
    base = dict(num_clients=5, pathloss=PathLossConfig(model="umi"))
    # Execute
    a = build_radio(RadioConfig(**base), still)
    b = build_radio(RadioConfig(**base, mobility=MobilityConfig(kind="constant_velocity", speed_mps=10.0)), moving)
    xy_a, xy_b = a.drop.xy_m.copy(), b.drop.xy_m.copy()
    a.link_states(2.0, np.zeros((5, 2)))
    b.link_states(2.0, np.zeros((5, 2)))
    # Assert: same drop (same placement streams); only the moving radio asks for motion streams and moves.
    np.testing.assert_array_equal(xy_a, xy_b)
    assert {"mobility", "los_motion", "fading_process"} <= set(moving.asked)
    assert not {"mobility", "los_motion", "fading_process"} & set(still.asked)
    np.testing.assert_array_equal(a.drop.xy_m, xy_a)
    np.testing.assert_allclose(np.hypot(*(b.drop.xy_m - xy_b).T), 20.0, rtol=1e-9)


@pytest.mark.parametrize("field, value, match", [
    ("interference", "half_load", "interference 'half_load'"),
    ("placement", PlacementConfig(kind="grid"), "placement kind 'grid'"),
    ("pathloss", PathLossConfig(model="umx"), "path-loss model 'umx'"),
])
def test_unknown_names_fail_when_built(field, value, match):
    with pytest.raises(ValueError, match=match):
        build_radio(RadioConfig(**{field: value}), Streams())
