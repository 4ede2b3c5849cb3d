"""Sweeps: resume after a real kill, torn points, failure isolation, common random numbers, Ray."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sim.core.engine import Engine
from sim.store.results import read_results
from sim.config.scenario import Scenario
from sim.sweep.runner import DONE, FAILED, plan, run_sweep
from tests.conftest import deep_merge
from workloads.base import Budget, Payload
from workloads.network_only import NetworkOnly

BASE: dict[str, Any] = {
    "seed": 3,
    "rounds": 3,
    "clients": {"count": 4, "placement": {"kind": "uniform_disc", "radius_m": 100}},
    "channel": {"fading": {"model": "rayleigh"}},
    "medium": {"packet_error_rate": 0.1},
    "round": {"deadline_s": 1.0},
    "workload": {"payload_bits": 1_000_000, "downlink_bits": 200_000, "work_flop": 1e11},
}


def sweep_scenario(**sweep: Any) -> Scenario:
    return Scenario.model_validate(deep_merge(BASE, {"sweep": sweep}))


def results_text(folder: Path) -> str:
    return (folder / "results.csv").read_text()


def test_results_have_one_row_per_point_in_sweep_order_and_are_reproducible(tmp_path):
    scn = sweep_scenario(grid={"channel.snr_db": [0, 20], "clients.count": [2, 3]}, seeds=2)

    first = run_sweep(scn, tmp_path / "a", workers=2)
    run_sweep(scn, tmp_path / "b", workers=1)

    rows = read_results(tmp_path / "a" / "results.csv")
    assert (first.total, first.ran, first.failed) == (8, 8, 0)
    assert [(r["channel.snr_db"], r["clients.count"], r["seed"]) for r in rows] == [
        (0, 2, 3), (0, 2, 4), (0, 3, 3), (0, 3, 4), (20, 2, 3), (20, 2, 4), (20, 3, 3), (20, 3, 4)
    ]
    assert [r["clients"] for r in rows] == [2, 2, 3, 3, 2, 2, 3, 3]
    # A point's row is its run's summary.
    summary = json.loads((tmp_path / "a" / "runs" / rows[5]["point_id"] / "summary.json").read_text())
    assert rows[5]["uplink_bytes_total"] == summary["uplink_bytes_total"]
    assert rows[5]["delivery_ratio"] == summary["delivered_total"] / (3 * 2)
    assert results_text(tmp_path / "a") == results_text(tmp_path / "b")
    assert "wall_time" not in results_text(tmp_path / "a")


def test_parquet_holds_the_same_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    scn = sweep_scenario(grid={"channel.snr_db": [5, 15]})

    run_sweep(scn, tmp_path, workers=1)

    table = pq.read_table(tmp_path / "results.parquet").to_pylist()
    rows = read_results(tmp_path / "results.csv")
    assert [r["point_id"] for r in table] == [r["point_id"] for r in rows]
    assert [r["energy_j_total"] for r in table] == [r["energy_j_total"] for r in rows]


def test_rerun_skips_done_points_and_redoes_torn_ones(tmp_path):
    scn = sweep_scenario(grid={"channel.snr_db": [0, 10, 20]})
    run_sweep(scn, tmp_path, workers=1)
    reference = results_text(tmp_path)
    points = plan(scn)
    torn = tmp_path / "runs" / points[1].id
    # What a kill between records and marker leaves: records, no marker, a half-written CSV.
    (torn / DONE).unlink()
    (torn / "rounds.csv").write_text("round,sim_ti")

    again = run_sweep(scn, tmp_path, workers=1)

    assert (again.skipped, again.ran) == (2, 1)
    assert (torn / DONE).exists()
    assert results_text(tmp_path) == reference


def test_a_failing_point_is_recorded_and_the_others_finish(tmp_path):
    scn = sweep_scenario(grid={"channel.snr_db": [0, 10, 20]})
    bad = plan(scn)[1]
    # A directory where the run must write its rounds.csv makes that one run raise.
    (tmp_path / "runs" / bad.id / "rounds.csv").mkdir(parents=True)

    outcome = run_sweep(scn, tmp_path, workers=2)

    rows = read_results(tmp_path / "results.csv")
    assert outcome.failed == 1
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert rows[1]["error"].startswith("OutputDirError") and "rounds.csv: Is a directory" in rows[1]["error"]
    assert rows[1]["uplink_bytes_total"] is None
    assert json.loads((tmp_path / "runs" / bad.id / FAILED).read_text())["status"] == "error"
    assert not (tmp_path / "runs" / bad.id / DONE).exists()


def test_cli_exit_code_is_1_when_a_point_failed(tmp_path, write_yaml):
    from sim.cli import main

    path = write_yaml(deep_merge(BASE, {"sweep": {"grid": {"channel.snr_db": [0, 10]}}}))
    args = ["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]
    assert main(args) == 0
    first = tmp_path / "out" / "runs" / plan(Scenario.model_validate(yaml.safe_load(path.read_text())))[0].id
    (first / DONE).unlink()
    (first / "clients.csv").unlink()
    (first / "clients.csv").mkdir()

    assert main(args) == 1
    assert (tmp_path / "out" / "report.html").exists()


class HalfPayload(NetworkOnly):
    """Another algorithm: half the upload, and it skips clients with a poor link."""

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        return None if budget.snr_db < 0 else Payload(self.up.bits // 2)


def test_two_algorithms_on_one_seed_see_identical_channel_draws():
    scn = Scenario.model_validate(BASE)

    a = Engine(scn, NetworkOnly(scn.workload, 4, scn.seed)).run()
    b = Engine(scn, HalfPayload(scn.workload, 4, scn.seed)).run()

    assert not np.array_equal(a.client_column("payload_bits"), b.client_column("payload_bits"))
    for col in ("distance_m", "pathloss_db", "snr_db", "rate_bps"):
        assert np.array_equal(a.client_column(col), b.client_column(col)), col


def test_sweep_points_differing_only_in_workload_share_the_channel(tmp_path):
    scn = sweep_scenario(grid={"workload.payload_bits": [200_000, 4_000_000]})
    run_sweep(scn, tmp_path, workers=1)
    small, large = (tmp_path / "runs" / p.id / "clients.csv" for p in plan(scn))

    def column(path: Path, name: str) -> list[str]:
        with open(path, newline="") as f:
            return [r[name] for r in csv.DictReader(f)]

    assert column(small, "payload_bits") != column(large, "payload_bits")
    assert column(small, "snr_db") == column(large, "snr_db")
    assert column(small, "rate_bps") == column(large, "rate_bps")


def test_sigkill_mid_sweep_then_rerun_matches_an_uninterrupted_sweep(tmp_path, write_yaml):
    data = deep_merge(BASE, {"rounds": 25, "clients": {"count": 30},
                             "sweep": {"grid": {"channel.snr_db": [0, 5, 10, 15, 20, 25]}, "seeds": 2}})
    path = write_yaml(data)
    cmd = [sys.executable, "-m", "sim", "sweep", str(path), "--workers", "2", "--quiet", "--out"]
    subprocess.run([*cmd, str(tmp_path / "clean")], check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(killed.glob(f"runs/*/{DONE}"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(killed.glob(f"runs/*/{DONE}")))
    assert 3 <= done_at_kill < 12, "the kill must land mid-sweep"
    rows_at_kill = read_results(killed / "results.csv")
    assert len(rows_at_kill) == len({r["point_id"] for r in rows_at_kill}) <= done_at_kill

    rerun = subprocess.run([*cmd, str(killed)], check=True, capture_output=True, text=True)

    assert f"12 points: {done_at_kill} already done, {12 - done_at_kill} run now, 0 failed" in rerun.stdout
    assert results_text(killed) == results_text(tmp_path / "clean")


def test_ray_executor_gives_the_same_results_as_the_pool(tmp_path):
    pytest.importorskip("ray")
    scn = sweep_scenario(grid={"channel.snr_db": [0, 20], "clients.count": [2, 5]})

    run_sweep(scn, tmp_path / "pool", workers=2)
    outcome = run_sweep(scn, tmp_path / "ray", executor="ray", workers=2)

    assert (outcome.ran, outcome.failed) == (4, 0)
    assert results_text(tmp_path / "ray") == results_text(tmp_path / "pool")


def test_an_unreachable_ray_head_is_bad_input_and_writes_nothing(tmp_path, write_yaml, capsys):
    from sim.cli import main

    path = write_yaml(BASE)
    out = tmp_path / "out"

    code = main(["sweep", str(path), "--executor", "ray", "--address", "127.0.0.1:1", "--out", str(out), "--quiet"])

    assert code == 2
    assert capsys.readouterr().err.startswith("--address 127.0.0.1:1: cannot reach a Ray head there")
    assert not out.exists()


def test_a_finished_sweep_reruns_nothing(tmp_path):
    scn = sweep_scenario(grid={"channel.snr_db": [0, 20]})
    run_sweep(scn, tmp_path, workers=1)
    reference = results_text(tmp_path)

    again = run_sweep(scn, tmp_path, executor="ray", workers=1)

    assert (again.total, again.skipped, again.ran, again.failed) == (2, 2, 0, 0)
    assert results_text(tmp_path) == reference
