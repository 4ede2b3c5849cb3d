import numpy as np
import pytest

from channels.config import PathLossConfig, ShadowingConfig
from channels.geometry import Drop
from channels.pathloss import PATHLOSS_MODELS, free_space_db, log_distance_db, pathloss_model, register_pathloss
from channels.tr38901 import tr38901_los_probability, tr38901_pathloss_db


@pytest.mark.parametrize(
    "distance_m, rx_power_w",
    # ns-3 FriisPropagationLossModel test vectors: f = 2398339664 Hz
    # (wavelength 0.125 m), Pt = 0.05035702 W, no system loss.
    [(100, 4.98265e-10), (500, 1.99306e-11), (1000, 4.98265e-12), (2000, 1.24566e-12)],
)
def test_friis_matches_ns3_reference_vectors(distance_m, rx_power_w):
    rx = 0.05035702 / 10 ** (free_space_db(distance_m, 2398339664.0) / 10)
    assert rx == pytest.approx(rx_power_w, rel=2e-5)


def test_log_distance_slope_and_reference():
    d = np.array([1.0, 10.0, 100.0])
    pl = log_distance_db(d, 3.5e9, exponent=3.0, reference_m=1.0, reference_loss_db=40.0)
    np.testing.assert_allclose(pl, [40.0, 70.0, 100.0])


def test_log_distance_defaults_to_free_space_at_reference_and_clamps_below():
    pl = log_distance_db(np.array([0.5, 1.0]), 3.5e9, exponent=3.5)
    expected = 20 * np.log10(4 * np.pi * 1.0 * 3.5e9 / 299_792_458.0)
    np.testing.assert_allclose(pl, [expected, expected])



def test_mean_gain_averages_the_los_state_with_the_los_probability():
    # Prepare: one UMi link 150 m long, where 0 < P_LOS < 1.
    model = pathloss_model(PathLossConfig(model="umi"), 3.5e9)
    drop = Drop(np.array([[0.0, 0.0]]), 1.5, 10.0, bs_xy_m=np.array([[0.0, 150.0]]))
    p = tr38901_los_probability("umi", [150.0])[0]
    g_los, g_nlos = (10 ** (-tr38901_pathloss_db("umi", [150.0], los, 3.5e9, 10.0, 1.5)[0] / 10) for los in (True, False))
    # Execute
    gain = model.mean_gain(drop)[0]
    # Assert
    assert 0 < p < 1 and g_nlos < g_los
    assert gain == pytest.approx(p * g_los + (1 - p) * g_nlos, rel=1e-12)


class _Uniforms:
    """Streams whose every generator draws from one seed; enough to see which streams a model asks for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def clients(self, purpose, num_clients):
        self.asked.append(purpose)
        return [np.random.default_rng(i) for i in range(num_clients)]


@pytest.mark.parametrize(
    "model, los, expected",
    [("free_space", "auto", [True] * 3), ("umi", "los", [True] * 3), ("log_distance", "nlos", [False] * 3)],
)
def test_forced_or_free_space_los_states_draw_nothing(model, los, expected):
    # Prepare: three clients at 50, 100, 150 m.
    streams = _Uniforms()
    drop = Drop(np.array([[50.0, 0.0], [100.0, 0.0], [150.0, 0.0]]), 1.5, 10.0)
    # Execute
    state = pathloss_model(PathLossConfig(model=model, los=los), 3.5e9).generate(drop, streams, ShadowingConfig())
    # Assert
    assert state.los.tolist() == expected and not state.draws_los and streams.asked == []


def test_drawn_los_state_is_the_uniform_below_the_los_probability():
    # Prepare: UMi at 50, 100, 150 m; client i's uniform is default_rng(i).random().
    streams = _Uniforms()
    drop = Drop(np.array([[50.0, 0.0], [100.0, 0.0], [150.0, 0.0]]), 1.5, 10.0)
    u = np.array([np.random.default_rng(i).random() for i in range(3)])
    # Execute
    state = pathloss_model(PathLossConfig(model="umi"), 3.5e9).generate(drop, streams, ShadowingConfig())
    # Assert
    assert state.los.tolist() == (u < tr38901_los_probability("umi", [50.0, 100.0, 150.0])).tolist()
    assert streams.asked == ["los"]


def test_shadowing_sigma_is_the_models_unless_given():
    # Prepare: UMi NLOS (7.82 dB, TR 38.901 Table 7.4.1-1), log-distance (fedwave's 8 dB), and an override.
    drop = Drop(np.array([[100.0, 0.0]]), 1.5, 10.0)
    on = ShadowingConfig(enabled=True)
    # Execute
    umi = pathloss_model(PathLossConfig(model="umi", los="nlos"), 3.5e9).generate(drop, _Uniforms(), on)
    logd = pathloss_model(PathLossConfig(model="log_distance", los="nlos"), 3.5e9).generate(drop, _Uniforms(), on)
    given = pathloss_model(PathLossConfig(model="umi", los="nlos"), 3.5e9).generate(
        drop, _Uniforms(), ShadowingConfig(enabled=True, sigma_db=3.0)
    )
    # Assert: the draw is client 0's standard normal times the sigma.
    z = np.random.default_rng(0).standard_normal()
    assert umi.shadowing_db[0] == pytest.approx(7.82 * z)
    assert logd.shadowing_db[0] == pytest.approx(8.0 * z)
    assert given.shadowing_db[0] == pytest.approx(3.0 * z)


def test_registry_lists_every_model_once_and_rejects_a_second_of_one_name():
    assert list(PATHLOSS_MODELS) == ["free_space", "log_distance", "umi", "uma", "rma", "inh"]
    with pytest.raises(ValueError, match="'umi' is already registered"):
        register_pathloss(type("Other", (PATHLOSS_MODELS["umi"],), {}))
    with pytest.raises(ValueError, match="'umx' is not one of free_space"):
        pathloss_model(PathLossConfig(model="umx"), 3.5e9)
