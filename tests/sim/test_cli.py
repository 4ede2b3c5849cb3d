"""The fedwave command: exit codes, one-line errors, nothing written on bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main

ROOT = Path(__file__).parents[2]


def test_run_writes_every_record(tmp_path, write_yaml, capsys, monkeypatch):
    import sim.report.summary

    calls = []
    render = sim.report.summary.render_report
    monkeypatch.setattr(sim.report.summary, "render_report", lambda *a: calls.append(1) or render(*a))
    monkeypatch.setattr("sim.report.run.render_report", sim.report.summary.render_report)
    monkeypatch.setattr("sim.report.worker.worker_useful", lambda: False)  # drawn here, where calls counts
    scn = write_yaml({"rounds": 2, "clients": {"count": 3}})
    assert main(["run", str(scn), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert len(calls) == 1  # the full report only; the records are not rendered twice
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"scenario.resolved.yaml", "rounds.csv", "clients.csv", "summary.json", "report.md"} <= names
    assert f"report: {tmp_path / 'out' / 'report.md'}" in capsys.readouterr().out


def test_bad_scenario_exits_2_with_one_line_and_writes_nothing(tmp_path, write_yaml):
    scn = write_yaml("channel:\n  fading: {model: raleigh}\n")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(scn), "--out", str(out)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{scn}:2: channel.fading.model: 'raleigh' is not one of none, rayleigh, rician, nakagami (did you mean 'rayleigh'?)"
    ]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_non_empty_output_folder_needs_force(tmp_path, write_yaml, capsys):
    scn = write_yaml({"rounds": 1, "clients": {"count": 2}})
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["run", str(scn), "--out", str(out), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["run", str(scn), "--out", str(out), "--quiet", "--force"]) == 0


def test_set_overrides_reach_the_run(tmp_path, write_yaml):
    scn = write_yaml({"rounds": 1})
    out = tmp_path / "out"
    assert main(["run", str(scn), "--out", str(out), "--quiet", "--set", "clients.count=4", "--set", "seed=9"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["clients"], summary["seed"]) == (4, 9)


def test_validate_and_schema(write_yaml, capsys):
    assert main(["validate", str(write_yaml({"rounds": 3}))]) == 0
    assert "rounds: 3" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "clients" in schema["properties"]
    assert main(["schema", "--markdown"]) == 0
    assert "| `channel.fading.model` |" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert subprocess.run([sys.executable, "-m", "sim", "frobnicate"], capture_output=True, cwd=ROOT).returncode == 2
    assert subprocess.run([sys.executable, "-m", "sim", "run"], capture_output=True, cwd=ROOT).returncode == 2


def test_run_without_plots_then_report_adds_them(tmp_path, write_yaml, capsys):
    scn = write_yaml({"rounds": 2, "clients": {"count": 3}})
    out = tmp_path / "out"
    assert main(["run", str(scn), "--out", str(out), "--quiet", "--no-plots"]) == 0
    assert (out / "report.md").exists() and not (out / "report.html").exists() and not (out / "plots").exists()
    assert "report.html" not in capsys.readouterr().out
    assert "## Plots" not in (out / "report.md").read_text()
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").exists() and any((out / "plots").iterdir())
    assert "## Plots" in (out / "report.md").read_text()


def test_a_ctrl_c_that_surfaces_as_another_error_is_reported_as_an_interrupt(monkeypatch, capsys):
    # Prepare: a command whose Ctrl-C is turned into another exception on its way up (as pydantic does
    # when one lands while it builds a validator), and one that fails on its own.
    import os
    import signal
    import time

    import sim.cli as cli

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("Ctrl-C is handled by the test runner here")

    def interrupted(argv):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("Error building validator: KeyboardInterrupt") from None

    def fails(argv):
        raise RuntimeError("a real error")

    # Execute / Assert: the first is an interrupt (exit 130, one line); the second goes on up.
    monkeypatch.setattr(cli, "_main", interrupted)
    assert cli.main(["run", "x.yaml"]) == 130
    assert capsys.readouterr().err.strip() == "fedwave: interrupted; nothing unfinished was kept"
    monkeypatch.setattr(cli, "_main", fails)
    with pytest.raises(RuntimeError, match="a real error"):
        cli.main(["run", "x.yaml"])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
