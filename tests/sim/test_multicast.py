"""Multicast downlink: ARQ against closed forms, airtime and bytes on the air worked by hand."""

import math

import numpy as np
import pytest

import workloads
from channels.pathloss import free_space_db
from sim.core.engine import Engine
from sim.core.multicast import extend_blocks, multicast_arq
from sim.run import run_scenario
from sim.config.scenario import ScenarioError, load_scenario
from tests.conftest import deep_merge, scenario
from workloads.base import Algorithm, Payload

# Three clients at known distances, no fading, no errors: a 0 dBm base station
# keeps every downlink SNR under Shannon's cap, so the rates are B log2(1 + SNR).
DISTANCES_M = [300.0, 600.0, 1200.0]
BASE = {
    "seed": 3,
    "rounds": 2,
    "clients": {
        "count": 3,
        "placement": {"kind": "fixed", "distances_m": DISTANCES_M},
        "height_m": 10.0,
        "device": {"flops_per_s": 1e9, "speed_sigma": 0.0},
    },
    "cell": {"carrier_ghz": 2.0, "bandwidth_mhz": 5.0, "bs_height_m": 10.0, "noise_figure_db": 5.0,
             "tx_power_dbm": 0.0},
    "channel": {"pathloss": {"model": "free_space"}, "fading": {"model": "none"}},
    "medium": {"downlink_sharing": "fdma_static", "packet_error_rate": 0.0},
    "round": {"deadline_s": 30.0},
    "workload": {"algorithm": "none", "payload_bits": 10_000, "downlink_bits": 2_400_000, "work_flop": 0.0},
}


def downlink_se(d_m: float) -> float:
    """Downlink spectral efficiency of a client at ``d_m`` on the whole 5 MHz band [bit/s/Hz]."""
    noise_dbm = -174 + 10 * math.log10(5e6) + 5.0
    snr = 10 ** ((0.0 - free_space_db(d_m, 2e9) - noise_dbm) / 10)
    se = math.log2(1 + snr)
    assert se < 8 * 948 / 1024  # below the cap: the hand formula is the rate
    return se


def run(cfg):
    scn = scenario(**cfg)
    return Engine(scn, workloads.create("none", scn.workload, scn.clients.count, scn.seed)).run()


# ---------------------------------------------------------------- ARQ closed forms


def test_error_free_multicast_sends_each_packet_once():
    out = multicast_arq(30_001, 12_000, np.zeros(5), 4, np.random.default_rng(0))
    assert (out.attempts, out.air_bits) == (3, 30_001)
    assert out.ok.all()


def test_tries_per_packet_are_the_maximum_of_the_receivers_geometrics():
    # Prepare: M so large that no receiver ever fails; E[T] = sum_t>=0 (1 - prod_i (1 - p_i^t)).
    p = np.array([0.1, 0.3, 0.5])
    expected = sum(1 - np.prod(1 - p**t) for t in range(200))
    packets, trials = 200, 200
    rng = np.random.default_rng(1)
    # Execute
    tries = [multicast_arq(packets * 1000, 1000, p, 64, rng).attempts for _ in range(trials)]
    # Assert: the mean over 40,000 packets within 4 standard errors (sd of T is about 1.2)
    assert abs(np.mean(tries) / packets - expected) < 4 * 1.2 / math.sqrt(packets * trials)


def test_each_receiver_is_served_with_its_unicast_probability():
    # Prepare: receiver i misses a packet after M = 2 tries with p_i^2; served with (1 - p_i^2)^packets.
    p = np.array([0.1, 0.3, 0.5])
    packets, trials = 5, 4000
    expected = (1 - p**2) ** packets  # 0.951, 0.624, 0.237
    rng = np.random.default_rng(2)
    # Execute
    ok = np.array([multicast_arq(packets * 100, 100, p, 2, rng).ok for _ in range(trials)])
    # Assert: binomial standard error, 4 sigma
    assert np.all(np.abs(ok.mean(axis=0) - expected) < 4 * np.sqrt(expected * (1 - expected) / trials))


def test_the_sender_stops_when_every_receiver_has_dropped_out():
    out = multicast_arq(48_000, 12_000, np.ones(3), 4, np.random.default_rng(0))
    assert (out.attempts, out.air_bits) == (4, 4 * 12_000)
    assert not out.ok.any()


def test_a_group_follows_its_weakest_receiver_in_every_block():
    snr = np.array([10.0, 4.0])
    ratio = np.array([[1.0, 0.1, 1.0], [1.0, 1.0, 0.5]])
    ext = extend_blocks(ratio, snr, [np.array([0, 1])])
    # group SNR per block: min(10, 4) = 4, min(1, 4) = 1, min(10, 2) = 2; over the block-0 minimum 4
    assert ext[2].tolist() == pytest.approx([1.0, 0.25, 0.5])


# ---------------------------------------------------------------- through the engine


def test_one_multicast_takes_the_payload_over_the_weakest_rate():
    # Prepare: by hand, the multicast drains 2.4 Mbit at 5 MHz x SE of the farthest client.
    weakest_rate = 5e6 * downlink_se(max(DISTANCES_M))
    # Execute
    res = run(deep_merge(BASE, {"medium": {"downlink_mode": "multicast"}}))
    # Assert
    row = res.rounds[0]
    assert row["downlink_airtime_s"] == pytest.approx(2.4e6 / weakest_rate, rel=1e-9)
    assert row["downlink_air_bytes"] == 2_400_000 // 8
    assert row["downlink_bytes"] == 3 * 2_400_000 // 8  # what the three clients received
    per_client = res.client_column("downlink_airtime_s")[:3]
    assert per_client.tolist() == pytest.approx([2.4e6 / weakest_rate] * 3, rel=1e-9)
    assert (res.client_column("outcome") == "delivered").all()


def test_n_unicasts_put_n_copies_on_the_air():
    # Prepare: fdma_static unicasts, each on B/3 at its own SNR.
    airtimes = [2.4e6 / (5e6 / 3 * downlink_se(d)) for d in DISTANCES_M]
    # Execute
    uni = run(BASE)
    multi = run(deep_merge(BASE, {"medium": {"downlink_mode": "multicast"}}))
    # Assert
    assert uni.rounds[0]["downlink_air_bytes"] == 3 * multi.rounds[0]["downlink_air_bytes"] == 3 * 300_000
    assert uni.rounds[0]["downlink_airtime_s"] == pytest.approx(sum(airtimes), rel=1e-9)
    assert uni.client_column("downlink_airtime_s")[:3].tolist() == pytest.approx(airtimes, rel=1e-9)
    assert uni.rounds[0]["downlink_bytes"] == multi.rounds[0]["downlink_bytes"]


def test_retransmissions_count_on_the_air_and_a_lost_receiver_is_a_downlink_failure():
    cfg = deep_merge(BASE, {"rounds": 1, "medium": {"downlink_mode": "multicast", "packet_error_rate": 1.0}})
    res = run(cfg)
    assert (res.client_column("outcome") == "downlink_failure").all()
    # Every receiver lost the first packet four times: the sender stopped there.
    assert res.rounds[0]["downlink_air_bytes"] == 4 * 12_000 // 8


class _TwoKinds(Algorithm):
    """Clients 0 and 1 download the broadcast; client 2 its own, larger, download."""

    def __init__(self) -> None:
        super().__init__()
        self.down, self.own = Payload(2_400_000), Payload(4_800_000)

    def broadcast(self, round_index):
        return self.down

    def downlink(self, client, round_index):
        return self.own if client == 2 else self.down

    def work_flop(self, client, round_index):
        return 0.0

    def local_update(self, client, round_index, budget):
        return Payload(10_000)

    def aggregate(self, round_index, payloads, failures):
        pass

    def evaluate(self, round_index):
        return {}


def test_per_client_downloads_stay_unicast_beside_the_multicast():
    # Prepare: fdma_static splits the band between the multicast (to 0 and 1) and client 2's unicast.
    scn = scenario(**deep_merge(BASE, {"rounds": 1, "medium": {"downlink_mode": "multicast"}}))
    multicast_s = 2.4e6 / (5e6 / 2 * downlink_se(DISTANCES_M[1]))
    unicast_s = 4.8e6 / (5e6 / 2 * downlink_se(DISTANCES_M[2]))
    # Execute
    res = Engine(scn, _TwoKinds()).run()
    # Assert
    assert res.client_column("downlink_airtime_s").tolist() == pytest.approx([multicast_s, multicast_s, unicast_s])
    assert res.rounds[0]["downlink_air_bytes"] == (2_400_000 + 4_800_000) // 8
    assert res.client_column("downlink_bits").tolist() == [2_400_000, 2_400_000, 4_800_000]


def test_each_cell_of_a_hex_grid_multicasts_once(tmp_path):
    cfg = {
        "rounds": 1,
        "clients": {"count": 21, "placement": {"kind": "hex_grid", "num_rings": 1, "isd_m": 200.0}},
        "channel": {"pathloss": {"model": "umi"}, "fading": {"model": "none"}},
        "medium": {"downlink_mode": "multicast"},
        "round": {"deadline_s": 60.0},
        "workload": {"algorithm": "none", "payload_bits": 1000, "downlink_bits": 120_000},
    }
    scn = scenario(**cfg)
    engine = Engine(scn, workloads.create("none", scn.workload, 21, scn.seed))
    res = engine.run()
    cells = len(set(engine.radio.drop.site.tolist()))
    assert cells == 7
    assert res.rounds[0]["downlink_air_bytes"] == 7 * 120_000 // 8
    summary = run_scenario(scn, tmp_path / "r")
    assert summary["spectrum_mhz"] == 7 * (20.0 + 20.0)  # seven cells, an uplink and a downlink band each
    assert "280 MHz of spectrum" in (tmp_path / "r" / "report.md").read_text()


def test_multicast_in_async_rounds_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("round: {mode: async}\nmedium: {downlink_mode: multicast}\n")
    with pytest.raises(ScenarioError, match="medium.downlink_mode.*sync"):
        load_scenario(path)
