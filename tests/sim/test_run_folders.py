"""A run owns its folder; --force replaces a finished run whole; resumes trust no stale or foreign marker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.cli import main
from sim.store.outdir import COMPLETE, locked
from sim.store.results import read_results
from sim.config.scenario import Scenario
from sim.sweep.runner import DONE, plan, run_sweep
from tests.conftest import deep_merge

ROOT = Path(__file__).parents[2]
NET: dict[str, Any] = {"seed": 1, "rounds": 2, "clients": {"count": 3}, "round": {"deadline_s": 1.0}}


def run_cli(*argv: str) -> int:
    return main([*argv, "--quiet"] if argv[0] in ("run", "sweep") else list(argv))


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_second_run_into_a_folder_being_written_is_refused(tmp_path, write_yaml, capsys):
    scn = write_yaml(NET)
    out = tmp_path / "out"
    out.mkdir()
    # Another fedwave run holds the folder (the lock is per open file, so this process can stand in for it).
    with locked(out):
        assert run_cli("run", str(scn), "--out", str(out)) == 2
    assert one_line(capsys.readouterr().err) == f"{out}: another fedwave run is writing into this folder"
    assert not (out / "rounds.csv").exists()


def test_two_runs_started_together_one_wins_one_is_refused(tmp_path, write_yaml):
    scn = write_yaml(deep_merge(NET, {"rounds": 200, "clients": {"count": 50}}))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "sim", "run", str(scn), "--out", str(out), "--quiet"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # type: ignore[union-attr]

    codes = sorted(code for code, _ in results)
    assert codes == [0, 2]
    refused = next(err for code, err in results if code == 2)
    assert one_line(refused) in (
        f"{out}: another fedwave run is writing into this folder",
        f"{out}: folder is not empty (use --force to replace the run in it)",
    )
    assert (out / COMPLETE).exists()


def test_force_replaces_every_record_and_keeps_the_users_files(tmp_path, write_yaml):
    out = tmp_path / "out"
    assert run_cli("run", str(write_yaml({**NET, "channel": {"trace_export": True}})), "--out", str(out)) == 0
    assert (out / "channel_trace.csv").exists()
    (out / "notes.txt").write_text("mine")
    (out / "plots" / "mine.png").write_bytes(b"not ours")

    assert run_cli("run", str(write_yaml({**NET, "seed": 2}, "b.yaml")), "--out", str(out), "--force") == 0

    assert not (out / "channel_trace.csv").exists()  # the old run's trace is gone with it
    assert (out / "notes.txt").read_text() == "mine" and (out / "plots" / "mine.png").read_bytes() == b"not ours"
    assert json.loads((out / "summary.json").read_text())["seed"] == 2
    assert (out / COMPLETE).exists() and (out / "report.html").exists()
    assert not list(out.glob(".staging-*"))


def test_a_run_stopped_before_its_commit_leaves_the_old_run_whole(tmp_path, write_yaml, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run_cli("run", str(write_yaml(NET)), "--out", str(out)) == 0
    before = snapshot(out)

    def stop(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.core.engine.Engine.run", stop)
    assert run_cli("run", str(write_yaml({**NET, "seed": 5}, "b.yaml")), "--out", str(out), "--force") == 130

    assert "interrupted" in one_line(capsys.readouterr().err)
    assert snapshot(out) == before


def test_a_run_killed_during_its_commit_is_never_taken_for_finished(tmp_path, write_yaml, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run_cli("run", str(write_yaml(NET)), "--out", str(out)) == 0
    real_replace = os.replace
    moved: list[str] = []

    def die_after_two(src: Any, dst: Any) -> None:
        committing = ".staging-" in str(src) and ".staging-" not in str(dst)
        if committing and len(moved) == 2:
            raise KeyboardInterrupt  # the moment a SIGKILL could land
        real_replace(src, dst)
        if committing:
            moved.append(str(dst))

    monkeypatch.setattr("sim.store.outdir.os.replace", die_after_two)
    assert run_cli("run", str(write_yaml({**NET, "seed": 5}, "b.yaml")), "--out", str(out), "--force") == 130
    monkeypatch.setattr("sim.store.outdir.os.replace", real_replace)
    capsys.readouterr()

    assert not (out / COMPLETE).exists()
    assert not (out / "summary.json").exists()  # nothing of the old run stays beside the new records
    assert run_cli("report", str(out)) == 2
    assert "no finished run here" in one_line(capsys.readouterr().err)
    # The leftovers are fedwave's own: a rerun replaces them without --force.
    assert run_cli("run", str(write_yaml(NET)), "--out", str(out)) == 0


def test_a_non_empty_folder_of_user_files_is_refused_without_force(tmp_path, write_yaml, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.csv").write_text("x")
    assert run_cli("run", str(write_yaml(NET)), "--out", str(out)) == 2
    assert one_line(capsys.readouterr().err) == f"{out}: folder is not empty (use --force to replace the run in it)"


def test_records_follow_the_umask(tmp_path, write_yaml):
    old = os.umask(0o027)
    try:
        assert run_cli("run", str(write_yaml(NET)), "--out", str(tmp_path / "out")) == 0
    finally:
        os.umask(old)
    for name in ("rounds.csv", "clients.csv", "summary.json", "report.md", COMPLETE, "plots/latency.png"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o640, name


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_found_before_the_simulation(tmp_path, write_yaml, monkeypatch, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    monkeypatch.setattr("sim.core.engine.Engine.run", lambda *a, **k: pytest.fail("simulated before checking the folder"))
    try:
        assert run_cli("run", str(write_yaml(NET)), "--out", str(out)) == 2
    finally:
        out.chmod(0o700)
    assert one_line(capsys.readouterr().err).startswith(f"{out}: cannot write into the folder")


def test_an_output_path_under_a_file_is_refused_before_the_simulation(tmp_path, write_yaml, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr("sim.core.engine.Engine.run", lambda *a, **k: pytest.fail("simulated before checking the folder"))
    assert run_cli("run", str(write_yaml(NET)), "--out", str(tmp_path / "file" / "out")) == 2
    assert one_line(capsys.readouterr().err).startswith(f"{tmp_path / 'file' / 'out'}: cannot create the folder")


# --- sweeps -----------------------------------------------------------------------------------------------


def sweep_of(grid: dict[str, list[Any]], **extra: Any) -> Scenario:
    return Scenario.model_validate(deep_merge(deep_merge(NET, extra), {"sweep": {"grid": grid}}))


def write_trace(path: Path, snr_db: float) -> None:
    path.write_text("time_s,client,snr_db\n" + "".join(f"0,{c},{snr_db}\n" for c in range(3)))


def test_a_changed_trace_file_reruns_the_points_that_read_it(tmp_path):
    trace = tmp_path / "trace.csv"
    write_trace(trace, 5.0)
    scn = sweep_of({"round.deadline_s": [0.5, 1.0]}, channel={"trace": str(trace)})
    run_sweep(scn, tmp_path / "sw", workers=1)
    first = read_results(tmp_path / "sw" / "results.csv")

    write_trace(trace, 25.0)
    again = run_sweep(scn, tmp_path / "sw", workers=1)

    assert (again.skipped, again.ran) == (0, 2)
    rows = read_results(tmp_path / "sw" / "results.csv")
    assert [r["mean_snr_db"] for r in rows] == [25.0, 25.0] != [r["mean_snr_db"] for r in first]


@pytest.mark.parametrize(
    "damage",
    ["records_deleted", "row_edited", "other_points_marker", "marker_not_an_object", "record_edited", "run_marker_gone"],
)
def test_a_resume_redoes_a_point_whose_marker_does_not_hold(tmp_path, damage):
    scn = sweep_of({"channel.snr_db": [0, 10, 20]})
    out = tmp_path / "sw"
    run_sweep(scn, out, workers=1)
    reference = (out / "results.csv").read_text()
    ids = [p.id for p in plan(scn)]
    target = out / "runs" / ids[1]
    marker = json.loads((target / DONE).read_text())
    if damage == "records_deleted":
        for name in ("rounds.csv", "clients.csv", "summary.json"):
            (target / name).unlink()
    elif damage == "row_edited":
        marker["row"]["uplink_bytes_total"] = 1
        (target / DONE).write_text(json.dumps(marker))
    elif damage == "other_points_marker":
        shutil.copy(out / "runs" / ids[0] / DONE, target / DONE)
    elif damage == "marker_not_an_object":
        (target / DONE).write_text("[1, 2]")
    elif damage == "record_edited":
        (target / "summary.json").write_text((target / "summary.json").read_text().replace('"rounds": 2', '"rounds": 3'))
    else:
        (target / COMPLETE).unlink()

    again = run_sweep(scn, out, workers=1)

    assert (again.skipped, again.ran, again.failed) == (2, 1, 0)
    assert (out / "results.csv").read_text() == reference


def test_a_different_sweep_into_a_finished_sweep_folder_needs_force(tmp_path, write_yaml, capsys):
    out = tmp_path / "sw"
    first = write_yaml(deep_merge(NET, {"sweep": {"grid": {"channel.snr_db": [0, 10]}}}), "a.yaml")
    other = write_yaml(deep_merge(NET, {"sweep": {"grid": {"channel.snr_db": [30]}}}), "b.yaml")
    assert run_cli("sweep", str(first), "--out", str(out), "--workers", "1") == 0
    before = (out / "results.csv").read_text()
    capsys.readouterr()

    assert run_cli("sweep", str(other), "--out", str(out), "--workers", "1") == 2
    assert "holds a different sweep" in one_line(capsys.readouterr().err)
    assert (out / "results.csv").read_text() == before
    # The same sweep resumes as before; --force replaces the results.
    assert run_cli("sweep", str(first), "--out", str(out), "--workers", "1") == 0
    assert run_cli("sweep", str(other), "--out", str(out), "--workers", "1", "--force") == 0
    assert [r["channel.snr_db"] for r in read_results(out / "results.csv")] == [30]


def test_an_interrupted_sweep_keeps_every_finished_point_in_results(tmp_path, monkeypatch):
    scn = sweep_of({"channel.snr_db": [0, 10, 20]})
    out = tmp_path / "sw"
    import sim.sweep.runner

    real_pool = sim.sweep.runner.run_pool

    def interrupted(fn, tasks, workers):  # type: ignore[no-untyped-def]
        # Two points finish in the workers; only the first result reaches the sweep before Ctrl-C.
        stream = real_pool(fn, tasks[:2], 1)
        items = list(stream)
        yield items[0]
        raise KeyboardInterrupt

    monkeypatch.setattr(sim.sweep.runner, "run_pool", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(scn, out, workers=1)

    assert len(read_results(out / "results.csv")) == 2


def test_a_sweep_cli_interrupt_exits_130(tmp_path, write_yaml, monkeypatch, capsys):
    path = write_yaml(deep_merge(NET, {"sweep": {"grid": {"channel.snr_db": [0, 10]}}}))

    def stop(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.sweep.runner.run_pool", stop)
    assert run_cli("sweep", str(path), "--out", str(tmp_path / "sw"), "--workers", "1") == 130
    assert "interrupted" in one_line(capsys.readouterr().err)


# --- workers die with their sweep -------------------------------------------------------------------------

ORPHAN_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from sim.sweep.executors import run_pool

    def slow(path):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(120)
        return 1

    if __name__ == "__main__":
        for _ in run_pool(slow, [(sys.argv[1],)], 1):
            pass
    """
)


def test_pool_workers_die_with_a_sigkilled_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_PARENT)
    pid_file = tmp_path / "worker.pid"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file)], cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(pid_file.read_text())

    parent.send_signal(signal.SIGKILL)
    parent.wait()

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{worker}/stat").exists() and Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z":
            break  # a zombie has exited; only its entry waits for a reaper
        time.sleep(0.05)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its sweep")


def test_a_worker_whose_parent_is_already_gone_exits_at_once():
    code = subprocess.run(
        [sys.executable, "-c", "from sim.sweep.executors import _die_with_parent; _die_with_parent(1); print('alive')"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert (code.returncode, code.stdout) == (1, "")


# --- long runs report in bounded time --------------------------------------------------------------------


def test_thin_keeps_first_and_last_and_at_most_the_limit():
    from sim.report.run import thin

    assert thin(5, 10).tolist() == [0, 1, 2, 3, 4]
    idx = thin(100_000, 300)
    assert idx.size <= 300 and idx[0] == 0 and idx[-1] == 99_999 and (idx[1:] > idx[:-1]).all()


def test_a_long_run_bins_its_charts_and_samples_its_table(tmp_path, write_yaml):
    from sim.report.summary import MAX_TABLE_ROUNDS
    from sim.report.run import MAX_BARS, _bins, load_run

    scn = write_yaml({"rounds": 1000, "clients": {"count": 2}, "round": {"deadline_s": 0.5},
                      "workload": {"payload_bits": 200_000, "downlink_bits": 1000, "work_flop": 1e9}})
    assert run_cli("run", str(scn), "--out", str(tmp_path / "out")) == 0

    data = load_run(tmp_path / "out")
    index, width = _bins(np.array([r["round"] for r in data.rounds]))
    md = (tmp_path / "out" / "report.md").read_text()
    table = md.split("## Rounds")[1].split("## Plots")[0]
    assert index.max() + 1 <= MAX_BARS and width == 4
    assert sum(line.startswith("| ") for line in table.splitlines()) == MAX_TABLE_ROUNDS + 1  # + header
    assert f"{MAX_TABLE_ROUNDS} of 1000 rounds shown" in table
    assert "| 999 |" in table and "| 0 |" in table
