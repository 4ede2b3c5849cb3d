"""The scenario's radio sections reach channels through one conversion (sim.config.schema.radio_config)."""

from __future__ import annotations

import numpy as np
import pytest

from channels import PATHLOSS_MODELS, RADIO_PURPOSES, PathLossModel, RadioConfig, register_pathloss
from channels.config import PathLossConfig, PlacementConfig
from sim.core.engine import scenario_radio
from sim.core.rng import PURPOSES
from sim.config.scenario import ScenarioError, load_scenario
from sim.config.schema import Scenario, radio_config
from tests.conftest import scenario


def test_a_default_scenario_has_the_default_radio():
    # channels' defaults are the scenario's: a RadioConfig built in code is the radio a ten-line YAML gets.
    assert radio_config(Scenario()) == RadioConfig()


def test_every_radio_stream_has_a_seed_purpose():
    assert set(RADIO_PURPOSES) <= set(PURPOSES)


def test_conversion_carries_units_and_sections():
    # Prepare
    scn = scenario(
        clients={"count": 3, "placement": {"kind": "fixed", "distances_m": [10.0, 20.0, 30.0]}, "height_m": 2.0},
        cell={"carrier_ghz": 28.0, "bandwidth_mhz": 100.0, "downlink_bandwidth_mhz": 200.0},
        channel={"pathloss": {"model": "uma", "los": "nlos"}, "shadowing": True, "shadowing_sigma_db": 5.0},
        medium={"packet_error_rate": 0.01},
    )
    # Execute
    cfg = radio_config(scn)
    # Assert
    assert cfg.num_clients == 3 and cfg.placement == PlacementConfig(kind="fixed", distances_m=(10.0, 20.0, 30.0))
    assert (cfg.cell.carrier_hz, cfg.cell.bandwidths_hz, cfg.cell.ue_height_m) == (28e9, (100e6, 200e6), 2.0)
    assert cfg.pathloss == PathLossConfig(model="uma", los="nlos")
    assert (cfg.shadowing.enabled, cfg.shadowing.sigma_db, cfg.packet_error_rate) == (True, 5.0, 0.01)


class _Flat(PathLossModel):
    """100 dB everywhere, always NLOS: a plugin registered before the scenario is loaded."""

    name = "flat_100db"

    def _loss_db(self, drop, los):
        return np.full(drop.xy_m.shape[0], 100.0)

    def _los_probability(self, drop):
        return np.zeros(drop.xy_m.shape[0])


def test_a_registered_pathloss_model_is_selectable_from_yaml(write_yaml):
    # Prepare
    data = {"clients": {"count": 4}, "channel": {"pathloss": {"model": "flat_100db"}}}
    with pytest.raises(ScenarioError, match="flat_100db"):
        load_scenario(write_yaml(data))
    register_pathloss(_Flat)
    try:
        # Execute
        radio = scenario_radio(load_scenario(write_yaml(data)))
    finally:
        del PATHLOSS_MODELS["flat_100db"]
    # Assert
    np.testing.assert_array_equal(radio.pathloss_db, np.full(4, 100.0))
    assert not radio.los.any()


def test_each_pathloss_option_belongs_to_a_model_that_reads_it():
    from dataclasses import fields

    from sim.config.schema import PathLoss

    options = {f.name for f in fields(PathLossConfig)} - {"model", "los"}
    assert set(PathLoss.model_fields) - {"model", "los"} == options
    claimed = {o for m in PATHLOSS_MODELS.values() for o in m.options}
    assert claimed == options  # no option that no model reads
    assert PATHLOSS_MODELS["umi"].options == ("env_height_m",)
    assert PATHLOSS_MODELS["free_space"].options == ()


@pytest.mark.parametrize("pathloss, line", [
    ({"model": "umi", "exponent_los": 3.0},
     "s.yaml:6: channel.pathloss.exponent_los: applies to log_distance, not to umi (umi takes env_height_m)"),
    ({"model": "free_space", "street_width_m": 30.0},
     "s.yaml:6: channel.pathloss.street_width_m: applies to rma, not to free_space (free_space takes no options)"),
    ({"model": "log_distance", "inh_office": "open"},
     "s.yaml:6: channel.pathloss.inh_office: applies to inh, not to log_distance (log_distance takes exponent_los, "
     "exponent_nlos, reference_m, reference_loss_db)"),
])
def test_another_models_option_is_refused_in_one_line(tmp_path, pathloss, line):
    path = tmp_path / "s.yaml"
    lines = ["clients:", "  count: 2", "channel:", "  pathloss:"] + [f"    {k}: {v}" for k, v in pathloss.items()]
    # The line named is the blamed key's own (line 6, after model on 5).
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value).replace(str(tmp_path) + "/", "") == line


def test_own_options_and_defaults_pass_and_a_resolved_scenario_reloads(tmp_path):
    import yaml

    from sim.config.scenario import scenario_to_yaml

    own = scenario(clients={"count": 2}, channel={"pathloss": {"model": "rma", "street_width_m": 30.0, "exponent_los": 2.0}})
    scn = Scenario.model_validate(own)
    assert scn.channel.pathloss.street_width_m == 30.0
    # The resolved form lists every option at its value; reading it back is the same scenario.
    again = Scenario.model_validate(yaml.safe_load(scenario_to_yaml(scn)))
    assert again == scn
