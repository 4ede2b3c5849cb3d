"""fedwave run draws its report in a forked worker while it writes its records: same bytes, nothing lost."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib  # noqa: F401  (loaded: run_scenario in this process draws its own report)
import pytest

import sim.report.run as report_run
import sim.report.worker as worker
from sim.config.scenario import Scenario
from sim.run import run_scenario

ROOT = Path(__file__).resolve().parents[2]
NET = {
    "seed": 5,
    "rounds": 4,
    "clients": {"count": 30, "placement": {"kind": "uniform_disc", "radius_m": 200}},
    "channel": {"fading": {"model": "rayleigh"}, "shadowing": True},
    "medium": {"uplink_sharing": "ofdma", "downlink_sharing": "ofdma", "packet_error_rate": 0.05},
    "round": {"deadline_s": 2.0},
    "workload": {"algorithm": "none", "payload_bits": 400_000, "downlink_bits": 200_000},
}


def report_bytes(folder: Path) -> dict[str, bytes]:
    files = [folder / "report.md", folder / "report.html", *sorted((folder / "plots").iterdir())]
    return {str(f.relative_to(folder)): f.read_bytes() for f in files}


def test_a_fresh_process_uses_the_worker_and_draws_the_same_bytes(tmp_path, write_yaml):
    # Prepare: a fresh interpreter has not loaded matplotlib, so `fedwave run` forks the worker there.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = "import sim.run; from sim.report.worker import worker_useful; print(worker_useful())"
    useful = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    if useful.stdout.strip() != "True":
        pytest.skip("no fork or a single core here: the report is drawn in the run's process")
    # Execute: the command (worker), and the same run in this process (matplotlib loaded: no worker).
    cmd = [sys.executable, "-m", "sim", "run", str(write_yaml(NET)), "--out", str(tmp_path / "cli"), "--quiet"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run_scenario(Scenario.model_validate(NET), tmp_path / "here", report="full")
    # Assert: the same report, byte for byte, and nothing said about a fallback.
    assert report_bytes(tmp_path / "cli") == report_bytes(tmp_path / "here")
    assert "own process" not in done.stderr


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_failed_worker_leaves_the_report_to_the_run(tmp_path, monkeypatch, capsys, how):
    # Prepare: a worker forked even though this process has matplotlib, whose drawing fails (an exception
    # it reports, or an exit without a word); the run's own process draws normally.
    parent = os.getpid()
    real = report_run.write_run_report

    def fails_in_the_worker(folder, data=None, *, plots=True):
        if os.getpid() != parent:
            if how == "dies":
                os._exit(3)
            raise RuntimeError("drawing failed")
        return real(folder, data, plots=plots)

    run_scenario(Scenario.model_validate(NET), tmp_path / "plain", report="full")
    monkeypatch.setattr(report_run, "write_run_report", fails_in_the_worker)
    monkeypatch.setattr(worker, "worker_useful", lambda: "fork" in worker.mp.get_all_start_methods())
    # Execute
    run_scenario(Scenario.model_validate(NET), tmp_path / "fell_back", report="full")
    # Assert: the report is there and the same; the user is told in one line on stderr.
    assert report_bytes(tmp_path / "fell_back") == report_bytes(tmp_path / "plain")
    err = capsys.readouterr().err
    assert "the report is drawn in the run's own process" in err and len(err.strip().splitlines()) == 1
    assert ("drawing failed" in err) if how == "raises" else ("exited with code 3" in err), err


@pytest.fixture
def forks(monkeypatch):
    """Workers forked here: worker_useful true wherever the platform forks, each worker kept to inspect."""
    if "fork" not in worker.mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    made = []
    real = worker.ReportWorker.__init__

    def kept(self):
        real(self)
        made.append(self)

    monkeypatch.setattr(worker, "worker_useful", lambda: True)
    monkeypatch.setattr(worker.ReportWorker, "__init__", kept)
    monkeypatch.setattr(worker, "_early", None)
    return made


def test_the_worker_forked_before_the_imports_draws_the_run(tmp_path, write_yaml, forks, capsys, monkeypatch):
    # Prepare: the run's report drawn in this process, for the bytes.
    from sim.cli import main

    with monkeypatch.context() as m:
        m.setattr(worker, "worker_useful", lambda: False)
        run_scenario(Scenario.model_validate(NET), tmp_path / "here", report="full")
    import sim.config.scenario as scenario

    real_load, loaded_after = scenario.load_scenario, []
    monkeypatch.setattr(scenario, "load_scenario", lambda *a: loaded_after.append(len(forks)) or real_load(*a))
    # Execute: `fedwave run`, which forks its worker before it loads the scenario.
    assert main(["run", str(write_yaml(NET)), "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    # Assert: one worker, forked before the scenario was loaded and taken by the run, drew the same bytes.
    assert loaded_after == [1]
    assert len(forks) == 1 and not forks[0]._proc.is_alive() and forks[0]._answered
    assert worker._early is None
    assert report_bytes(tmp_path / "cli") == report_bytes(tmp_path / "here")
    assert "own process" not in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--set", "rounds=-3"], ["--no-plots"]])
def test_a_run_that_does_not_draw_leaves_no_worker(tmp_path, write_yaml, forks, capsys, argv):
    # Prepare / Execute: a run refused for its scenario (after the early fork), and one without plots.
    from sim.cli import main

    rc = main(["run", str(write_yaml(NET)), "--out", str(tmp_path / "out"), "--quiet", *argv])
    # Assert: the refused run forked a worker and ended it; the run without plots forked none.
    if argv[0] == "--set":
        assert rc == 2 and len(forks) == 1 and not forks[0]._proc.is_alive()
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    else:
        assert rc == 0 and forks == []
    assert worker._early is None


class SlowToPickle:
    """Data whose pickling takes a while: the run is interrupted while the sender thread is at it."""

    def __reduce__(self):
        import time

        time.sleep(0.5)
        return (SlowToPickle, ())


def test_a_run_interrupted_while_handing_over_its_data_prints_nothing_more(monkeypatch, tmp_path):
    # Prepare: a worker that never reads, and the hook that prints a thread's uncaught exception.
    import threading
    import time

    if "fork" not in worker.mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(worker, "_serve", lambda conn, runs_end: time.sleep(30))
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    w = worker.ReportWorker()
    # Execute: the data handed over, then the run ends (Ctrl-C) before the sender is through.
    assert w.draw(tmp_path, SlowToPickle())
    w.close()
    # Assert: the worker is gone, the sender ended quietly, the pipe is closed.
    assert not w._proc.is_alive() and not w._sender.is_alive()
    assert uncaught == []
    assert w._conn.closed


def test_a_worker_whose_run_is_killed_before_it_sends_its_data_ends(tmp_path):
    # Prepare: a run (a forked process) that forks its worker and dies at once, as under kill -9.
    import time

    if "fork" not in worker.mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    pid_file = tmp_path / "worker.pid"

    def run_killed_early():
        w = worker.ReportWorker()
        pid_file.write_text(str(w._proc.pid))
        os._exit(9)  # no cleanup, no atexit: the worker is never closed

    run = worker.mp.get_context("fork").Process(target=run_killed_early)
    # Execute
    run.start()
    run.join()
    pid = int(pid_file.read_text())

    def running() -> bool:
        try:
            return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False

    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc here")
    deadline = time.monotonic() + 60
    while running() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = running()
    if left:  # not left behind holding this session's output
        os.kill(pid, 9)
    # Assert: the worker saw its run's end of the pipe close, and ended.
    assert not left

