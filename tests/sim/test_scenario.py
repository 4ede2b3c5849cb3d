"""Scenario validation: one clear line per problem, naming file, line and field."""

import pytest

from sim.config.scenario import Scenario, ScenarioError, leaf_fields, load_scenario, scenario_to_yaml


def error_of(path, overrides=None) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_ten_line_yaml_works_and_fills_defaults(write_yaml):
    scn = load_scenario(write_yaml({"rounds": 2, "clients": {"count": 3}}))
    assert scn.rounds == 2 and scn.clients.count == 3
    assert scn.channel.fading.model == "rayleigh" and scn.medium.max_attempts == 4


def test_bad_choice_names_file_line_field_and_choices(write_yaml):
    path = write_yaml("rounds: 2\nchannel:\n  fading:\n    model: raleigh\n", name="quick.yaml")
    assert error_of(path) == (
        f"{path}:4: channel.fading.model: 'raleigh' is not one of none, rayleigh, rician, nakagami (did you mean 'rayleigh'?)"
    )


def test_typo_is_an_error_with_a_suggestion(write_yaml):
    path = write_yaml("channel:\n  fadng: {model: rayleigh}\n")
    assert error_of(path) == f"{path}:2: channel.fadng: unknown key (did you mean 'fading'?)"


@pytest.mark.parametrize(
    "text, field, problem",
    [
        ("rounds: five\n", "rounds", "valid integer"),
        ("clients:\n  count: -3\n", "clients.count", "greater than or equal to 1"),
        ("clients:\n  count: 10000000\n", "clients.count", "less than or equal to 100000"),
        ("cell:\n  carrier_ghz: .nan\n", "cell.carrier_ghz", "finite"),
        ("medium:\n  packet_error_rate: 1.5\n", "medium.packet_error_rate", "less than or equal to 1"),
        ("channel:\n  fading: {model: nakagami, m: 0.2}\n", "channel.fading.m", "0.5"),
        ("clients: 5\n", "clients", "valid dictionary"),
    ],
)
def test_wrong_values_name_the_field(write_yaml, text, field, problem):
    message = error_of(write_yaml(text))
    assert f": {field}: " in message and problem in message


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "empty scenario"),
        ("# only a comment\n", "empty scenario"),
        ("- 1\n- 2\n", "expected a mapping at the top level, got list"),
        ("rounds: [1, 2\n", "YAML syntax error"),
        (b"\x00\xff\xfe\x80binary", "not a text file"),
    ],
)
def test_unreadable_documents(tmp_path, content, problem):
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert problem in error_of(path)


def test_syntax_error_names_the_line(write_yaml):
    # The flow mapping opened with { on line 3 is closed with ]: the parser stops at that ].
    path = write_yaml("rounds: 2\nclients:\n  placement: {kind: ring]\nseed: 3\n")
    assert error_of(path) == f"{path}:3: YAML syntax error: expected ',' or '}}', but got ']'"
    # An unclosed list runs to the end of the file: the error is where the parser ran out, line 4.
    path = write_yaml("rounds: 2\nclients:\n  count: [1,\n")
    assert error_of(path) == f"{path}:4: YAML syntax error: expected the node content, but found '<stream end>'"


def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"


def test_set_overrides_any_key_as_yaml(write_yaml):
    path = write_yaml({"clients": {"count": 2}})
    scn = load_scenario(path, ["clients.placement={kind: fixed, distances_m: [10, 100]}", "channel.snr_db=12.5"])
    assert scn.clients.placement.distances_m == [10.0, 100.0]
    assert scn.channel.snr_db == 12.5


def test_bad_set_names_the_override(write_yaml):
    path = write_yaml({"rounds": 1})
    assert error_of(path, ["rounds=-1"]) == f"{path}: --set rounds: input should be greater than or equal to 1 (got -1)"
    assert "expected dotted.key=value" in error_of(path, ["rounds"])


def test_cross_field_checks(write_yaml):
    message = error_of(write_yaml({"clients": {"count": 3, "placement": {"kind": "fixed", "distances_m": [1, 2]}}}))
    assert "clients.placement.distances_m: has 2 entries but clients.count is 3" in message
    message = error_of(write_yaml({"channel": {"pathloss": {"model": "free_space", "los": "nlos"}}}))
    assert "channel.pathloss.los" in message


def test_resolved_yaml_round_trips(write_yaml):
    scn = load_scenario(write_yaml({"seed": 3, "channel": {"snr_db": 5}}))
    again = load_scenario(write_yaml(scenario_to_yaml(scn), name="resolved.yaml"))
    assert again == scn


def test_every_leaf_key_is_documented():
    for name, _default, description in leaf_fields():
        assert description, f"{name} has no description"
    assert {"seed", "channel.fading.doppler_hz", "workload.payload_bits"} <= {n for n, _, _ in leaf_fields()}
    assert Scenario.model_json_schema()["additionalProperties"] is False
