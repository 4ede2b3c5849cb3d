"""Who takes part, at the edge: bad participation settings exit 2 in one line; the ready scenarios plan."""

import subprocess
import sys
from pathlib import Path

import pytest

from sim.config.scenario import load_scenario
from sim.sweep.runner import plan

ROOT = Path(__file__).parents[2]


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "validate", str(path)], capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize(
    "data, field, problem",
    [
        ({"clients": {"count": 3}, "round": {"mode": "async", "buffer_size": 4}},
         "round.buffer_size", "4 is more than clients.count=3"),
        ({"round": {"mode": "async"}, "workload": {"algorithm": "fd_full"}}, "round.mode", "async cannot run fd_full"),
        ({"clients": {"availability": "trace"}}, "clients.availability_trace", "is required"),
    ],
)
def test_participation_errors_exit_2_in_one_line_naming_file_and_field(write_yaml, data, field, problem):
    # Prepare
    path = write_yaml(data)
    # Execute
    proc = validate(path)
    # Assert: exit 2, one line on stderr with the file, the field and the problem, no traceback, nothing on stdout.
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and proc.stdout == ""
    assert str(path) in lines[0] and field in lines[0] and problem in lines[0] and "Traceback" not in proc.stderr


def test_the_bounds_are_refused_in_async(write_yaml):
    # local_only and centralised are synchronous references: their rows beside async come from sync runs.
    from sim.config.scenario import ScenarioError

    for name in ("local_only", "centralised"):
        with pytest.raises(ScenarioError, match=f"round.mode: async cannot run {name}"):
            load_scenario(write_yaml({"round": {"mode": "async"}, "workload": {"algorithm": name}}))


def test_bad_availability_trace_exits_2_naming_the_trace_line(tmp_path, write_yaml):
    trace = tmp_path / "av.csv"
    trace.write_text("client,start_s,end_s\n0,0,4\n0,3,5\n1,0,1\n")
    path = write_yaml({"clients": {"count": 2, "availability": "trace", "availability_trace": str(trace)}})
    proc = validate(path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "clients.availability_trace" in lines[0] and f"{trace}:3: interval starting at 3.0 overlaps" in lines[0]


def points(name: str, tmp_path: Path) -> list[dict]:
    """The params of each planned point of a ready sweep scenario, each point loaded again as a file
    (so the cross-key checks of one run pass on every point)."""
    planned = plan(load_scenario(ROOT / "scenarios" / name))
    for i, p in enumerate(planned):
        path = tmp_path / f"point{i}.yaml"
        path.write_text(p.scenario_yaml)
        load_scenario(path)
    return [p.params for p in planned]


def test_selection_tiny_plans_the_five_policies_on_the_pretrained_testbed(tmp_path):
    pts = points("selection_tiny.yaml", tmp_path)
    assert [(p["workload.algorithm"], p["clients.selection"], p["clients.per_round"]) for p in pts] == [
        ("fedavg_lora", "uniform", 5), ("fedavg_lora", "round_robin", 5), ("fedavg_lora", "best_channel", 5),
        ("fedavg_lora", "proportional_fair", 5), ("fedavg_lora", "age", 5),
    ]
    scn = load_scenario(ROOT / "scenarios" / "selection_tiny.yaml")
    # The pretrained tiny testbed of compare_tiny, not the random-init models of old.
    tiny = load_scenario(ROOT / "scenarios" / "compare_tiny.yaml")
    for key in ("hidden_size", "vocab_size", "base_steps", "lora_rank", "lora_targets", "lr", "local_steps"):
        assert getattr(scn.workload, key) == getattr(tiny.workload, key), key


def test_async_vs_sync_plans_both_modes_and_the_bounds_every_point_valid(tmp_path):
    pts = points("async_vs_sync.yaml", tmp_path)
    assert [(p["workload.algorithm"], p["round.mode"], p["rounds"]) for p in pts] == [
        ("fedavg_lora", "sync", 13), ("fedavg_lora", "async", 45), ("local_only", "sync", 6), ("centralised", "sync", 6),
    ]
