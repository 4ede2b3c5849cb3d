"""Records are an interface: the shipped network-only scenario gives the same bytes as when its records were frozen.

``tests/sim/data/network_only_*.csv`` are the records of
``scenarios/network_only.yaml`` (seed 7) written before the workload
configuration moved beside each algorithm (issue 12).  A change that alters
them changes what every user's run writes: if that is the intent, say so and
refreeze them with ``fedwave run scenarios/network_only.yaml --out DIR`` and a copy.
"""

from __future__ import annotations

from pathlib import Path

from sim.run import run_scenario
from sim.config.scenario import load_scenario

ROOT = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"


def test_network_only_records_are_byte_identical_to_the_frozen_ones(tmp_path):
    scn = load_scenario(ROOT / "scenarios" / "network_only.yaml")

    run_scenario(scn, tmp_path / "run", report=False)

    for name in ("rounds.csv", "clients.csv"):
        assert (tmp_path / "run" / name).read_text() == (DATA / f"network_only_{name}").read_text(), name
