"""Radio settings the TR 38.901 models cannot take: refused at validation with the reason."""

import pytest

from sim.config.scenario import ScenarioError, load_scenario


def test_inh_with_an_outdoor_mast_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("cell: {bs_height_m: 10}\nchannel: {pathloss: {model: inh}}\n")
    with pytest.raises(ScenarioError, match="cell.bs_height_m.*ceiling, 3 m"):
        load_scenario(path)
