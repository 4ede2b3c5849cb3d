"""The round driver: exact event times, deadline drops, closed forms through a whole run."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import workloads
from channels.pathloss import SPEED_OF_LIGHT_M_S, free_space_db
from sim.core.engine import Engine
from sim.run import run_scenario
from tests.conftest import deep_merge, scenario

# Two clients at known distances, no fading, no errors, identical devices:
# every time in a round can be worked out by hand.
EXACT = {
    "seed": 1,
    "rounds": 2,
    "clients": {
        "count": 2,
        "placement": {"kind": "fixed", "distances_m": [100.0, 20000.0]},
        "height_m": 10.0,
        "tx_power_dbm": 20.0,
        "device": {"flops_per_s": 1e9, "speed_sigma": 0.0, "compute_power_w": 2.0},
    },
    "cell": {"carrier_ghz": 2.0, "bandwidth_mhz": 1.0, "bs_height_m": 10.0, "noise_figure_db": 5.0},
    "channel": {"pathloss": {"model": "free_space"}, "fading": {"model": "none"}},
    "medium": {"uplink_sharing": "fdma_static", "packet_error_rate": 0.0},
    "round": {"deadline_s": 3.0},
    "workload": {"algorithm": "none", "payload_bits": 4_000_000, "downlink_bits": 0, "work_flop": 5e8},
}


def hand_uplink(d_m):
    """(rate on B/2 with power concentration [bit/s], propagation delay [s]).

    Shannon's default cap: the highest NR MCS, 8 x 948/1024 bit/s/Hz (TS 38.214 Table 5.1.3.1-2).
    """
    noise_dbm = -174 + 10 * math.log10(1e6) + 5.0
    snr = 10 ** ((20.0 - free_space_db(d_m, 2e9) - noise_dbm) / 10)
    return 0.5e6 * min(math.log2(1 + 2 * snr), 8 * 948 / 1024), d_m / SPEED_OF_LIGHT_M_S


def run(cfg):
    scn = scenario(**cfg)
    return Engine(scn, workloads.create("none", scn.workload, scn.clients.count, scn.seed)).run()


def test_deadline_drops_the_late_client_at_the_exact_times():
    (r0, lat0), (r1, lat1) = hand_uplink(100.0), hand_uplink(20000.0)
    compute = 5e8 / 1e9
    arrive0 = lat0 + compute + 4e6 / r0 + lat0
    arrive1 = lat1 + compute + 4e6 / r1 + lat1
    assert arrive0 < 3.0 < arrive1  # the scenario is built so
    res = run(EXACT)
    outcome = res.client_column("outcome")
    airtime = res.client_column("airtime_s")
    assert list(outcome) == ["delivered", "deadline"] * 2
    assert airtime[0] == pytest.approx(4e6 / r0, rel=1e-9)
    assert airtime[1] == pytest.approx(3.0 - (lat1 + compute), rel=1e-9)  # cut at the deadline
    # The cut upload started only the packets its airtime carried (12,000-bit packets).
    attempts = res.client_column("attempts")
    assert attempts[0] == math.ceil(4e6 / 12_000)
    assert attempts[1] == math.ceil(r1 * airtime[1] / 12_000) < attempts[0]
    assert [r["sim_time_s"] for r in res.rounds] == pytest.approx([3.0, 6.0])
    energy = res.client_column("energy_j")
    tx_w = 10 ** ((20.0 - 30) / 10)
    assert energy[0] == pytest.approx(2.0 * compute + tx_w * airtime[0])


def test_round_ends_at_the_last_arrival_when_everybody_makes_it():
    (r0, lat0), (r1, lat1) = hand_uplink(100.0), hand_uplink(20000.0)
    res = run(deep_merge(EXACT, {"round": {"deadline_s": 60.0}}))
    last = 2 * lat1 + 0.5 + 4e6 / r1
    assert res.rounds[0]["duration_s"] == pytest.approx(last, rel=1e-12)
    assert res.rounds[1]["sim_time_s"] == pytest.approx(2 * last, rel=1e-12)
    assert list(res.client_column("delivered")) == [1, 1, 1, 1]


def test_budget_is_what_the_link_carries_before_the_deadline():
    r0, lat0 = hand_uplink(100.0)
    res = run(EXACT)
    time_left = 3.0 - (lat0 + 0.5) - lat0
    assert res.client_column("budget_bits")[0] == int(r0 * time_left)


def test_slow_compute_misses_the_deadline_without_uploading():
    res = run(deep_merge(EXACT, {"workload": {"work_flop": 5e9}}))  # 5 s of compute
    assert list(res.client_column("outcome")) == ["deadline"] * 4
    assert res.client_column("airtime_s").sum() == 0.0
    # Energy counts only the compute done before the round closed.
    assert res.client_column("energy_j")[0] == pytest.approx(2.0 * (3.0 - hand_uplink(100.0)[1]))


def test_rayleigh_outage_through_the_whole_chain():
    cfg = {
        "rounds": 1,
        "clients": {"count": 4000},
        "channel": {"snr_db": 10.0, "fading": {"model": "rayleigh"}},
        "cell": {"bandwidth_mhz": 10.0},
    }
    rate = run(cfg).client_column("rate_bps")
    s, target = 10.0, 2.0 * 10e6  # 2 bit/s/Hz over 10 MHz
    expected = 1 - math.exp(-(2**2 - 1) / s)
    assert np.mean(rate < target) == pytest.approx(expected, abs=4 * math.sqrt(expected * (1 - expected) / 4000))


def test_arq_attempts_through_the_whole_chain():
    cfg = {
        "rounds": 3,
        "clients": {"count": 3000},
        "channel": {"snr_db": 30.0, "fading": {"model": "none"}},
        "medium": {"packet_error_rate": 0.3, "max_attempts": 3, "packet_bits": 1000},
        "round": {"deadline_s": 100.0},
        "workload": {"payload_bits": 1000, "downlink_bits": 0, "work_flop": 0},
    }
    res = run(cfg)
    outcome = res.client_column("outcome")
    assert np.mean(outcome == "arq_failure") == pytest.approx(0.3**3, abs=0.01)
    assert res.client_column("attempts").mean() == pytest.approx((1 - 0.3**3) / 0.7, rel=0.02)


def test_adding_clients_does_not_reshuffle_the_others():
    small = run({"rounds": 2, "clients": {"count": 5}, "channel": {"shadowing": True}})
    large = run({"rounds": 2, "clients": {"count": 8}, "channel": {"shadowing": True}})
    for col in ("distance_m", "pathloss_db", "snr_db"):
        a, b = small.client_column(col).reshape(2, 5), large.client_column(col).reshape(2, 8)
        np.testing.assert_array_equal(a, b[:, :5])


def files(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ("rounds.csv", "clients.csv", "scenario.resolved.yaml")}


def test_same_seed_gives_byte_identical_records(tmp_path):
    cfg = {"rounds": 3, "clients": {"count": 20}, "medium": {"packet_error_rate": 0.1}}
    run_scenario(scenario(**cfg), tmp_path / "a")
    run_scenario(scenario(**cfg), tmp_path / "b")
    run_scenario(scenario(**{**cfg, "seed": 1}), tmp_path / "c")
    assert files(tmp_path / "a") == files(tmp_path / "b")
    assert files(tmp_path / "a")["clients.csv"] != files(tmp_path / "c")["clients.csv"]


def test_records_have_the_public_columns(tmp_path):
    summary = run_scenario(scenario(rounds=2, clients={"count": 3}), tmp_path / "r")
    with open(tmp_path / "r" / "clients.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    assert list(rows[0]) == [
        "round", "client", "distance_m", "pathloss_db", "snr_db", "rate_bps", "budget_bits", "k",
        "payload_bits", "downlink_bits", "client_storage_bytes", "airtime_s", "attempts", "delivered", "compute_s",
        "energy_j", "outcome", "downlink_airtime_s", "tx_power_dbm",
    ]  # fmt: skip
    with open(tmp_path / "r" / "rounds.csv") as f:
        header = next(csv.reader(f))
    assert header[:9] == [
        "round", "sim_time_s", "duration_s", "participants", "delivered", "dropped",
        "uplink_bytes", "downlink_bytes", "cum_uplink_bytes",
    ]  # fmt: skip
    assert {"seed", "rounds", "clients", "sim_time_s", "uplink_bytes_total", "downlink_bytes_total",
            "airtime_s_total", "energy_j_total", "final_metrics", "wall_time_s", "fedwave_version"} <= set(summary)
    assert (tmp_path / "r" / "report.md").read_text().startswith("# fedwave run")


def test_network_only_run_never_imports_torch(tmp_path):
    code = (
        "import sys; from pathlib import Path; from sim.run import run_scenario; from sim.config.scenario import Scenario;"
        f"run_scenario(Scenario(), Path({str(tmp_path / 'r')!r}));"
        "sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0
