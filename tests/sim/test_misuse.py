"""Misuse of the fedwave command: every case is exit 2 and one line naming file, field and problem, no traceback.

Each case is (scenario text or None, extra files, argv builder, expected fragments of the one line).
The CLI runs in-process (``sim.cli.main``), so a traceback would surface as an exception here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.cli import main
from sim.config.scenario import MAX_SCENARIO_BYTES

NET = "rounds: 2\nclients: {count: 3}\nround: {deadline_s: 1.0}\n"
LM = "rounds: 1\nclients: {count: 2}\nworkload: {algorithm: adaptive_topk, warmup_steps: 0}\n"
TRACE_HEAD = "time_s,client,snr_db\n"


def trace(rows: str) -> str:
    return TRACE_HEAD + rows


def scenario_with_trace(name: str = "t.csv") -> str:
    return NET + f"channel: {{trace: {name}}}\n"


Case = tuple[str | None, dict[str, Any], Callable[[Path], list[str]], list[str]]


def run(path: Path) -> list[str]:
    return ["run", str(path / "s.yaml"), "--out", str(path / "out"), "--quiet"]


def validate(path: Path) -> list[str]:
    return ["validate", str(path / "s.yaml")]


def sweep(*extra: str) -> Callable[[Path], list[str]]:
    return lambda path: ["sweep", str(path / "s.yaml"), "--out", str(path / "sw"), "--quiet", "--workers", "1", *extra]


ALIAS_BOMB = "sweep:\n  grid:\n    rounds: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "".join(
    f"    {k}: *a\n"
    for k in ("seed", "clients.count", "channel.snr_db", "cell.bandwidth_mhz", "round.deadline_s",
              "workload.payload_bits", "workload.downlink_bits", "workload.work_flop")
)

CASES: dict[str, Case] = {
    # --- the scenario file itself
    "missing file": (None, {}, validate, ["s.yaml: no such file"]),
    "directory": (None, {"s.yaml/": None}, validate, ["is a directory"]),
    "fifo": (None, {"s.yaml|": None}, validate, ["not a regular file"]),
    "too large": ("#" * (MAX_SCENARIO_BYTES + 1) + "\n", {}, validate, ["bytes; a scenario file may have at most"]),
    "not utf-8": ("rounds: \xff\n", {"raw": b"rounds: \xff\n"}, validate, ["invalid UTF-8"]),
    "deep nesting": ("a: " + "[" * 3000 + "]" * 3000 + "\n", {}, validate, ["nested too deeply"]),
    "deep mapping": ("".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n", {}, validate,
                     ["nested too deeply"]),
    "huge integer": ("rounds: " + "9" * 5000 + "\n", {}, validate, ["a value cannot be read"]),
    "huge integer in range field": ("seed: " + "9" * 400 + "\n", {}, validate, ["s.yaml:1: seed:"]),
    "duplicate key": ("rounds: 2\nclients: {count: 3}\nrounds: 4\n", {}, validate,
                      ["s.yaml:3: duplicate key 'rounds' (first at line 1)"]),
    "duplicate section": ("clients:\n  count: 3\nseed: 1\nclients:\n  height_m: 2\n", {}, validate,
                          ["s.yaml:4: duplicate key 'clients'"]),
    "boolean rounds": ("rounds: yes\n", {}, validate, ["s.yaml:1: rounds: must be a number, not a boolean"]),
    "boolean bandwidth": ("cell: {bandwidth_mhz: true}\n", {}, validate, ["cell.bandwidth_mhz: must be a number"]),
    "boolean in a list": ("clients: {count: 2, placement: {kind: fixed, distances_m: [5, false]}}\n", {}, validate,
                          ["distances_m: must be a number"]),
    "long echoed value": ("channel: {fading: {model: " + "x" * 5000 + "}}\n", {}, validate,
                          ["channel.fading.model: 'xxx", "...", "is not one of"]),
    "alias bomb sweep (run)": (ALIAS_BOMB, {}, run, ["sweep: 1000000000 points; a sweep may have at most 10000"]),
    "alias bomb sweep (validate)": (ALIAS_BOMB, {}, validate, ["1000000000 points"]),
    # --- radio values the formulas cannot take
    "sub-normal bandwidth": ("cell: {bandwidth_mhz: 1.0e-310}\n", {}, run, ["cell.bandwidth_mhz: must be at least 0.001 MHz"]),
    "sub-normal downlink bandwidth": ("cell: {downlink_bandwidth_mhz: 1.0e-320}\n", {}, run, ["cell.downlink_bandwidth_mhz"]),
    "client on the antenna": (
        "clients: {count: 1, height_m: 10, placement: {kind: fixed, distances_m: [0]}}\n"
        "channel: {pathloss: {model: free_space}}\n", {}, run, ["clients.placement: a client can stand on the antenna"]),
    "carrier below free-space far field": ("cell: {carrier_ghz: 1.0e-9}\nchannel: {pathloss: {model: free_space}}\n",
                                           {}, run, ["cell.carrier_ghz: 1e-09 GHz has its far field beyond"]),
    "carrier outside rma": ("cell: {carrier_ghz: 50}\nchannel: {pathloss: {model: rma}}\n", {}, run,
                            ["cell.carrier_ghz: rma path loss is valid for 0.5 .. 30 GHz (got 50)"]),
    "carrier outside umi": ("cell: {carrier_ghz: 0.1}\nchannel: {pathloss: {model: umi}}\n", {}, run,
                            ["umi path loss is valid for 0.5 .. 100 GHz"]),
    # --- traces
    "trace SNR 1e308": (scenario_with_trace(), {"t.csv": trace("0,0,1e308\n0,1,0\n0,2,0\n")}, run,
                        ["channel.trace", "t.csv:2: SNR must be within +-300 dB"]),
    "trace missing": (scenario_with_trace(), {}, run, ["channel.trace", "t.csv: no such file"]),
    "trace is a folder": (scenario_with_trace(), {"t.csv/": None}, run, ["t.csv: not a regular file"]),
    "trace is a fifo": (scenario_with_trace(), {"t.csv|": None}, run, ["t.csv: not a regular file"]),
    "trace not utf-8": (scenario_with_trace(), {"t.csv": b"time_s,client,snr_db\n0,0,\xff\n"}, run, ["invalid UTF-8"]),
    "trace not a number": (scenario_with_trace(), {"t.csv": trace("0,0,abc\n")}, run, ["t.csv:2: not a number"]),
    "trace duplicate sample": (scenario_with_trace(), {"t.csv": trace("0,0,1\n0,1,1\n0,2,1\n0,1,5\n")}, run,
                               ["t.csv:5: duplicate sample of client 1 at time 0 (first at line 3)"]),
    "trace client missing": (scenario_with_trace(), {"t.csv": trace("0,0,1\n0,1,1\n")}, run, ["no samples for client 2"]),
    # --- workload values a run would crash on after minutes
    "hidden_layer past the layers": (LM.replace("warmup_steps: 0", "warmup_steps: 0, hidden_layer: 7"), {}, run, []),
    "unknown lora target": ("workload: {algorithm: fd_full, lora_targets: [q_proj, qproj]}\n", {}, run,
                            ["workload.lora_targets[1]: 'qproj' is not a module of a llama model"]),
    "test_size beyond corpus": ("workload: {algorithm: fd_full, test_size: 5000}\n", {}, run,
                                ["workload.test_size", "exceeds the bbc_news corpus"]),
    "public_size beyond corpus": ("workload: {algorithm: fd_full, public_size: 5000}\n", {}, run, ["workload.public_size"]),
    "k_min beyond vocabulary": ("workload: {algorithm: adaptive_topk, k_min: 100000, vocab_size: 2048}\n", {}, run,
                                ["workload.k_min: 100000 is larger than the tiny model's vocabulary of 2048"]),
    "text_tokens beyond memory": ("workload: {algorithm: fd_full, text_tokens: 4096, test_size: 2000, pretrain_size: 100}\n",
                                  {}, run, ["workload.text_tokens: 4096 tokens need about", "GiB"]),
    # --- output folders
    "output under a file": (NET, {"file": "x"}, lambda p: ["run", str(p / "s.yaml"), "--out", str(p / "file" / "o")],
                            ["cannot create the folder"]),
    "output is a file": (NET, {"o": "x"}, lambda p: ["run", str(p / "s.yaml"), "--out", str(p / "o")],
                         ["exists and is not a folder"]),
    "output in a read-only place": (NET, {}, lambda p: ["run", str(p / "s.yaml"), "--out", "/proc/fedwave-out"],
                                    ["/proc/fedwave-out: cannot create the folder"]),
    # --- sweep options
    "grid NaN": (NET, {}, sweep("--grid", "channel.snr_db=0,.nan"), ["--grid channel.snr_db[1]: must be a finite number"]),
    "zip NaN": (NET, {}, sweep("--zip", "channel.snr_db=.nan,1", "--zip", "seed=1,2"), ["--zip channel.snr_db[0]"]),
    "grid NaN in file": (NET + "sweep: {grid: {channel.snr_db: [.nan]}}\n", {}, sweep(),
                         ["sweep.grid.channel.snr_db[0]: must be a finite number"]),
    "grid empty item": (NET, {}, sweep("--grid", "workload.k_min=0,,5"), ["--grid workload.k_min: value 2 is empty"]),
    "grid no values": (NET, {}, sweep("--grid", "rounds="), ["--grid rounds=: expected dotted.key=v1,v2"]),
    "target accuracy 5": (NET, {}, sweep("--target-accuracy", "5"), ["--target-accuracy: must be a share in 0 .. 1"]),
    "target accuracy nan": (NET, {}, sweep("--target-accuracy", "nan"), ["--target-accuracy"]),
    "unknown baseline": (NET, {}, sweep("--baseline", "fedprox"), ["--baseline: 'fedprox' is not one of"]),
    "--set huge integer": (NET, {}, lambda p: [*validate(p), "--set", "rounds=" + "9" * 5000], ["--set rounds: value cannot be read"]),
    "--set deep nesting": (NET, {}, lambda p: [*validate(p), "--set", "rounds=" + "[" * 5000 + "]" * 5000],
                           ["--set rounds: value nested too deeply"]),
    "--set boolean": (NET, {}, lambda p: [*validate(p), "--set", "clients.count=true"], ["--set clients.count: must be a number"]),
    "sweep points beyond the limit": (NET, {}, sweep("--grid", "seed=" + ",".join(map(str, range(101))),
                                                     "--grid", "rounds=" + ",".join(map(str, range(1, 101)))),
                                      ["10100 points"]),
}


def _materialise(tmp_path: Path, text: str | None, files: dict[str, Any]) -> None:
    raw = files.get("raw")
    if text is not None:
        (tmp_path / "s.yaml").write_bytes(raw if raw is not None else text.encode())
    for name, content in files.items():
        if name == "raw":
            continue
        if name.endswith("/"):
            (tmp_path / name[:-1]).mkdir()
        elif name.endswith("|"):
            os.mkfifo(tmp_path / name[:-1])
        else:
            (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())


@pytest.mark.parametrize("name", list(CASES))
def test_misuse_is_one_line_and_exit_2(name, tmp_path, monkeypatch, capsys):
    text, files, argv, expected = CASES[name]
    _materialise(tmp_path, text, files)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sim.core.engine.Engine.run", lambda *a, **k: pytest.fail("the bad input reached the simulation"))

    code = main(argv(tmp_path))

    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert len(lines[0]) < 400
    for fragment in expected:
        assert fragment in lines[0]
    if name == "hidden_layer past the layers":
        assert "workload.hidden_layer: 7 is outside the tiny model's 2 layers" in lines[0]


def test_validate_and_run_agree_on_every_case(tmp_path, monkeypatch, capsys):
    """What ``validate`` refuses, ``run`` refuses with the same line (scenario cases only)."""
    monkeypatch.setattr("sim.core.engine.Engine.run", lambda *a, **k: pytest.fail("reached the simulation"))
    for name, (text, files, argv, _) in CASES.items():
        if argv is not run or text is None or "|" in "".join(files):
            continue
        folder = tmp_path / str(abs(hash(name)))
        folder.mkdir()
        _materialise(folder, text, files)
        monkeypatch.chdir(folder)
        assert main(validate(folder)) == 2, name
        said = capsys.readouterr().err
        assert main(run(folder)) == 2, name
        assert capsys.readouterr().err == said, name


# --- damaged records under `fedwave report` ---------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    (folder / "s.yaml").write_text(NET)
    assert main(["run", str(folder / "s.yaml"), "--out", str(folder / "out"), "--quiet"]) == 0
    return folder / "out"


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "s.yaml").write_text(NET + "sweep: {grid: {channel.snr_db: [0, 10]}}\n")
    assert main(["sweep", str(folder / "s.yaml"), "--out", str(folder / "sw"), "--quiet", "--workers", "1"]) == 0
    return folder / "sw"


def _edit_csv(path: Path, fn: Callable[[list[str]], list[str]]) -> None:
    path.write_text("\n".join(fn(path.read_text().splitlines())) + "\n")


RUN_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "non-numeric round value": (lambda d: _edit_csv(d / "rounds.csv", lambda ls: [ls[0], "x" + ls[1], *ls[2:]]),
                                "rounds.csv:2: column round: not a number ('x"),
    "renamed client column": (lambda d: _edit_csv(d / "clients.csv", lambda ls: [ls[0].replace("snr_db", "snr"), *ls[1:]]),
                              "clients.csv: column 'snr_db' is missing"),
    "unknown outcome": (lambda d: _edit_csv(d / "clients.csv", lambda ls: [ls[0], _swap_cell(ls[0], ls[1], "outcome", "lost"), *ls[2:]]),
                        "outcome 'lost' is not one of delivered"),
    "short row": (lambda d: _edit_csv(d / "clients.csv", lambda ls: [ls[0], ls[1].rsplit(",", 2)[0], *ls[2:]]),
                  "clients.csv:2: the row has fewer cells than the header"),
    "summary not JSON": (lambda d: (d / "summary.json").write_text("{"), "summary.json: not valid JSON"),
    "summary a list": (lambda d: (d / "summary.json").write_text("[]"), "summary.json: expected a JSON object, got list"),
    "summary value text": (lambda d: (d / "summary.json").write_text(json.dumps({**json.loads((d / "summary.json").read_text()), "sim_time_s": "soon"})),
                           "summary.json: sim_time_s: not a number ('soon')"),
    "scenario bad YAML": (lambda d: (d / "scenario.resolved.yaml").write_text("a: [\n"), "scenario.resolved.yaml: not valid YAML"),
    "scenario bad UTF-8": (lambda d: (d / "scenario.resolved.yaml").write_bytes(b"rounds: \xff\n"), "invalid UTF-8"),
    "scenario bad value": (lambda d: (d / "scenario.resolved.yaml").write_text("rounds: -1\n"), "scenario.resolved.yaml: rounds:"),
    "marker gone": (lambda d: (d / "run.done.json").unlink(), "no finished run here"),
    "marker damaged": (lambda d: (d / "run.done.json").write_text("[1]"), "run.done.json: damaged marker"),
    "record removed": (lambda d: (d / "clients.csv").unlink(), "clients.csv: missing"),
}


@pytest.mark.parametrize("name", list(RUN_DAMAGE))
def test_report_on_damaged_run_records_is_one_line(name, finished_run, tmp_path, capsys):
    folder = tmp_path / "run"
    import shutil

    shutil.copytree(finished_run, folder)
    damage, expected = RUN_DAMAGE[name]
    damage(folder)

    code = main(["report", str(folder)])

    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expected in err


SWEEP_DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "renamed column": (lambda d: _edit_csv(d / "results.csv", lambda ls: [ls[0].replace("status", "state"), *ls[1:]]),
                       "results.csv: column 'status' is missing"),
    "renamed figure column": (lambda d: _edit_csv(d / "results.csv", lambda ls: [ls[0].replace("energy_j_total", "energy"), *ls[1:]]),
                              "results.csv: column 'energy_j_total' is missing"),
    "unknown status": (lambda d: _edit_csv(d / "results.csv", lambda ls: [ls[0], *[l.replace(",ok,", ",fine,") for l in ls[1:]]]),
                       "results.csv:2: status 'fine' is not ok or error"),
    "non-numeric figure": (lambda d: _edit_csv(d / "results.csv", lambda ls: [ls[0], *[_swap_cell(ls[0], l, "uplink_bytes_total", "many") for l in ls[1:]]]),
                           "results.csv:2: column uplink_bytes_total: not a number ('many')"),
    "ragged row": (lambda d: _edit_csv(d / "results.csv", lambda ls: [ls[0], ls[1] + ",extra", *ls[2:]]), "results.csv:2:"),
    "not UTF-8": (lambda d: (d / "results.csv").write_bytes(b"\xff\xfe"), "results.csv: not a text file"),
    "sweep.yaml not a mapping": (lambda d: (d / "sweep.yaml").write_text("- 1\n"), "sweep.yaml: expected a mapping"),
    "sweep.yaml bad YAML": (lambda d: (d / "sweep.yaml").write_text("a: [\n"), "sweep.yaml: not valid YAML"),
    "baseline not in the sweep": (lambda d: None, "--baseline: fd_full is not in this sweep"),
}


def _swap_cell(header: str, line: str, column: str, value: str) -> str:
    cells = line.split(",")
    cells[header.split(",").index(column)] = value
    return ",".join(cells)


@pytest.mark.parametrize("name", list(SWEEP_DAMAGE))
def test_report_on_damaged_sweep_records_is_one_line(name, finished_sweep, tmp_path, capsys):
    folder = tmp_path / "sw"
    import shutil

    shutil.copytree(finished_sweep, folder)
    damage, expected = SWEEP_DAMAGE[name]
    damage(folder)
    extra = ["--baseline", "fd_full"] if name == "baseline not in the sweep" else []

    code = main(["report", str(folder), *extra])

    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert expected in err


def test_damaged_point_markers_are_redone_not_tracebacks(finished_sweep, tmp_path, capsys):
    folder = tmp_path / "sw"
    import shutil

    shutil.copytree(finished_sweep, folder)
    s_yaml = finished_sweep.parent / "s.yaml"
    for i, marker in enumerate(sorted(folder.glob("runs/*/point.json"))):
        marker.write_text(["[]", "\"text\"", "{"][i % 3])

    assert main(["sweep", str(s_yaml), "--out", str(folder), "--quiet", "--workers", "1"]) == 0
    assert "2 points: 0 already done, 2 run now, 0 failed" in capsys.readouterr().out
    assert yaml.safe_load((folder / "sweep.yaml").read_text())["rounds"] == 2
