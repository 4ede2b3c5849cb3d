"""Sweep points: expansion order, zip, seeds, ids, and the sweep block's one-line errors."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.config.grid import expand, parse_values, point_id
from sim.config.scenario import ScenarioError, load_scenario


def test_grid_is_a_product_with_the_first_key_outermost_and_seeds_innermost():
    points = expand({"a": [1, 2], "b": ["x", "y"]}, {}, seeds=2, base_seed=7)

    assert points == [
        {"a": 1, "b": "x", "seed": 7},
        {"a": 1, "b": "x", "seed": 8},
        {"a": 1, "b": "y", "seed": 7},
        {"a": 1, "b": "y", "seed": 8},
        {"a": 2, "b": "x", "seed": 7},
        {"a": 2, "b": "x", "seed": 8},
        {"a": 2, "b": "y", "seed": 7},
        {"a": 2, "b": "y", "seed": 8},
    ]


def test_zipped_lists_advance_together_and_cross_the_grid():
    points = expand({"g": [0, 1]}, {"n": [5, 10, 50], "d": [1.0, 2.0, 4.0]}, seeds=1, base_seed=0)

    assert [(p["g"], p["n"], p["d"]) for p in points] == [
        (0, 5, 1.0), (0, 10, 2.0), (0, 50, 4.0), (1, 5, 1.0), (1, 10, 2.0), (1, 50, 4.0)
    ]
    assert {p["seed"] for p in points} == {0}


def test_a_swept_seed_replaces_the_seed_count():
    assert expand({"seed": [3, 9]}, {}, seeds=5, base_seed=0) == [{"seed": 3}, {"seed": 9}]


def test_no_grid_is_one_point_per_seed():
    assert expand({}, {}, seeds=3, base_seed=4) == [{"seed": 4}, {"seed": 5}, {"seed": 6}]


def test_zip_lists_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="differ in length"):
        expand({}, {"a": [1, 2], "b": [1]}, seeds=1, base_seed=0)


def test_values_are_parsed_as_yaml_items():
    assert parse_values("0,5,10.5") == [0, 5, 10.5]
    assert parse_values("fd_full, adaptive_topk") == ["fd_full", "adaptive_topk"]
    assert parse_values("[[10, 20], [30]]") == [[10, 20], [30]]
    assert parse_values("null,true") == [None, True]


def test_point_id_is_a_stable_digest_of_the_resolved_scenario():
    assert point_id("seed: 1\n") == point_id("seed: 1\n")
    assert point_id("seed: 1\n") != point_id("seed: 2\n")
    assert len(point_id("seed: 1\n")) == 12


def test_sweep_block_loads_and_cli_options_merge_over_it(write_yaml):
    path = write_yaml({"sweep": {"grid": {"channel.snr_db": [0, 10]}, "seeds": 2}})

    scn = load_scenario(path, sweep={"grid": {"clients.count": [3, 4]}, "zip": {}, "seeds": None})

    assert scn.sweep.grid == {"channel.snr_db": [0, 10], "clients.count": [3, 4]}
    assert scn.sweep.seeds == 2


@pytest.mark.parametrize(
    "sweep, message",
    [
        ({"grid": {"channel.snr": [1]}}, "scn.yaml:3: sweep.grid.channel.snr: unknown scenario key (did you mean 'channel.snr_db'?)"),
        ({"grid": {"channel.snr_db": [0, 500]}}, "scn.yaml:5: sweep.grid.channel.snr_db[1]: input should be less than or equal to 100 (got 500)"),
        ({"grid": {"clients.count": []}}, "scn.yaml:3: sweep.grid.clients.count: needs at least one value"),
        ({"zip": {"clients.count": [1, 2], "rounds": [1]}}, "scn.yaml:2: sweep.zip: zipped lists differ in length (clients.count has 2, rounds has 1)"),
        ({"grid": {"clients.placement.kind": ["fixed"]}}, "scn.yaml:1: sweep: point clients.placement.kind=fixed, seed=0: clients.placement.distances_m: is required when kind is fixed"),
    ],
)
def test_bad_sweep_blocks_fail_with_one_line_naming_the_line(write_yaml, sweep, message):
    path = write_yaml({"sweep": sweep})

    with pytest.raises(ScenarioError) as err:
        load_scenario(path)

    assert str(err.value) == message.replace("scn.yaml", str(path))


def test_bad_grid_option_exits_2_with_one_line_and_writes_nothing(write_yaml, tmp_path, capsys):
    path = write_yaml({"rounds": 1})
    out = tmp_path / "sweep"

    code = main(["sweep", str(path), "--grid", "channel.snr_db=0,500", "--out", str(out), "--quiet"])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"{path}: --grid channel.snr_db[1]: input should be less than or equal to 100 (got 500)\n"
    assert not out.exists()


def test_sweep_refuses_a_folder_that_is_not_a_sweep(write_yaml, tmp_path, capsys):
    path = write_yaml({"rounds": 1})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")

    code = main(["sweep", str(path), "--out", str(tmp_path / "other"), "--quiet"])

    assert code == 2
    assert "is not a sweep folder" in capsys.readouterr().err
