"""The closed-form round driver gives the event path's records byte for byte, where it applies."""

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

import workloads
from sim.core.engine import scenario_radio as build_radio
from sim.core.engine import Engine
from sim.core.fastround import _Link, events_needed
from sim.run import run_scenario
from tests.conftest import deep_merge, scenario
from workloads.base import Algorithm, Budget, Payload

BASE = {
    "seed": 3,
    "rounds": 3,
    "clients": {
        "count": 16,
        "placement": {"kind": "uniform_disc", "radius_m": 300},
        "device": {"flops_per_s": 1e12, "speed_sigma": 0.5},
    },
    "cell": {"bandwidth_mhz": 20},
    "channel": {"pathloss": {"model": "log_distance"}, "shadowing": True},
    "workload": {"algorithm": "none", "payload_bits": 2_000_000, "downlink_bits": 1_000_000, "work_flop": 2e11},
}

POLICIES = [("fdma_static", "fdma_static"), ("tdma", "tdma"), ("tdma", "fdma_static"), ("ofdma", "ofdma"),
            ("proportional_fair", "proportional_fair"), ("ofdma", "tdma"), ("fdma_static", "proportional_fair")]
ARQ = [0.0, 0.2]
FADING = ["none", "rayleigh"]
# 0.6 s cuts most clients (tdma cuts nearly all), 30 s lets nearly everyone through.
DEADLINES = [0.6, 30.0]
SELECTION = [None, {"per_round": 6, "selection": "best_channel"}]


def both(cfg, tmp_path: Path, name: str) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(event path's, closed form's) rounds.csv and clients.csv bytes for ``cfg``."""
    out = []
    for engine in ("events", "auto"):
        scn = scenario(**deep_merge(cfg, {"round": {"engine": engine}}))
        folder = tmp_path / f"{name}-{engine}"
        run_scenario(scn, folder, report=False)
        out.append({f: (folder / f).read_bytes() for f in ("rounds.csv", "clients.csv")})
    return out[0], out[1]


def takes_fast_path(cfg) -> bool:
    scn = scenario(**cfg)
    return events_needed(scn, build_radio(scn), scn.clients.availability == "always") is None


@pytest.mark.parametrize("up,down", POLICIES)
def test_records_are_byte_identical_over_the_grid(up, down, tmp_path):
    # Prepare: every combination of ARQ, fading, a cutting deadline and selection for one pair of policies.
    for n, (per, fading, deadline, sel) in enumerate(itertools.product(ARQ, FADING, DEADLINES, SELECTION)):
        cfg = deep_merge(BASE, {
            "medium": {"uplink_sharing": up, "downlink_sharing": down, "packet_error_rate": per},
            "channel": {"fading": {"model": fading}},
            "round": {"deadline_s": deadline},
        })
        if sel is not None:
            cfg = deep_merge(cfg, {"clients": sel})
        assert takes_fast_path(cfg)
        # Execute
        events, fast = both(cfg, tmp_path, f"g{n}")
        # Assert: the same bytes, and the grid point really exercised what it names.
        assert fast == events, (up, down, per, fading, deadline, sel)
        outcomes = events["clients.csv"].decode()
        if deadline < 1:
            assert ",deadline," in outcomes
        if per > 0:
            assert ",downlink_failure," in outcomes or ",arq_failure," in outcomes


def test_identical_with_cells_and_aggregation_time(tmp_path):
    # Prepare: a hex grid of 7 cells (each its own tdma queue) and server time between rounds.
    cfg = deep_merge(BASE, {
        "clients": {"count": 40, "placement": {"kind": "hex_grid", "num_rings": 1, "isd_m": 500}},
        "channel": {"fading": {"model": "rayleigh"}},
        "medium": {"uplink_sharing": "tdma", "downlink_sharing": "fdma_static", "packet_error_rate": 0.05},
        "round": {"deadline_s": 3.0, "aggregation_s": 0.25},
    })
    assert takes_fast_path(cfg)
    events, fast = both(cfg, tmp_path, "cells")
    assert fast == events


def test_tdma_queue_by_hand():
    # Prepare: one cell, rates 1 and 2 Mbit/s and a dead link (0), arrivals at 0, 0 and 5 s.
    link = _Link.__new__(_Link)
    link.sharing, link.rate_bps, link.cell = "tdma", np.array([1e6, 2e6, 0.0]), np.zeros(3, dtype=np.int64)
    # Execute: 2 Mbit from client 0 and 1 at t=0, then 1 Mbit from client 1 at 5 s, then client 2, then 0 again.
    service, end = link.ends(np.array([0, 1, 1, 2, 0]), np.array([0.0, 0.0, 5.0, 5.0, 5.0]),
                             np.array([2e6, 2e6, 1e6, 1e6, 0.0]), 0.0)
    # Assert: served one after the other; the dead link holds the band for good; a zero-bit transfer
    # does not queue.
    np.testing.assert_array_equal(service, [0.0, 2.0, 5.0, 5.5, 5.0])
    np.testing.assert_array_equal(end, [2.0, 3.0, 5.5, np.inf, 5.0])


class Adaptive(Algorithm):
    """A test double that uses every hook: per-client downloads, budget-sized uploads, skips, Top-k."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls: list[tuple[str, int, int]] = []
        self.aggregated: list[list[int]] = []

    def broadcast(self, round_index: int) -> Payload:
        return Payload(0)

    def downlink(self, client: int, round_index: int) -> Payload:
        return Payload(200_000 * (1 + client % 3))

    def downloaded(self, client: int, round_index: int) -> None:
        self.calls.append(("downloaded", client, round_index))

    def work_flop(self, client: int, round_index: int) -> float:
        return 1e10 * (1 + (client * 7 + round_index) % 5)

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        self.calls.append(("local_update", client, round_index))
        if (client + round_index) % 6 == 0:
            return None
        if client % 11 == 0:
            return Payload(0, k=0)
        bits = max(0, min(budget.max_bits, 3_000_000))
        return Payload(bits, k=bits // 10_000)

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        self.aggregated.append(list(payloads))

    def evaluate(self, round_index: int) -> dict[str, float]:
        return {"eval_round": float(round_index)}


@pytest.mark.parametrize("up", ["fdma_static", "tdma", "ofdma", "proportional_fair"])
def test_algorithm_sees_the_same_calls_in_the_same_order(up):
    cfg = deep_merge(BASE, {
        "medium": {"uplink_sharing": up, "downlink_sharing": "tdma", "packet_error_rate": 0.1},
        "channel": {"fading": {"model": "rayleigh"}},
        "round": {"deadline_s": 1.5},
    })
    runs = []
    for engine in ("events", "auto"):
        scn = scenario(**deep_merge(cfg, {"round": {"engine": engine}}))
        alg = Adaptive(scn.clients.count)
        eng = Engine(scn, alg)
        assert (eng.events_reason is None) == (engine == "auto")
        res = eng.run()
        runs.append((alg.calls, alg.aggregated, res.rounds, {c: res.client_column(c) for c in res.columns}))
    (calls_e, agg_e, rounds_e, cols_e), (calls_f, agg_f, rounds_f, cols_f) = runs
    assert calls_f == calls_e and agg_f == agg_e
    assert any(a for a in agg_e)  # some uploads arrived
    assert str(rounds_f) == str(rounds_e)
    for c in cols_e:
        np.testing.assert_array_equal(cols_f[c], cols_e[c], err_msg=c)
    assert set(cols_e["outcome"]) >= {"skipped", "delivered"}


@pytest.mark.parametrize("extra,reason", [
    ({"round": {"engine": "events"}}, "round.engine"),
    ({"round": {"mode": "async"}}, "round.mode"),
    ({"medium": {"uplink_sharing": "ofdma"}, "clients": {"placement": {"kind": "hex_grid", "num_rings": 1}}},
     "uplink_sharing"),
    ({"medium": {"downlink_sharing": "proportional_fair"},
      "clients": {"placement": {"kind": "hex_grid", "num_rings": 1}}}, "downlink_sharing"),
    ({"clients": {"availability": "markov"}}, "availability"),
    ({"channel": {"fading": {"model": "rayleigh", "doppler_hz": 50.0, "within_transfer": "blocks"}}}, "within_transfer"),
    ({"medium": {"downlink_mode": "multicast"}}, "downlink_mode"),
    ({"clients": {"power_control": "open_loop"}}, "power_control"),
    ({"medium": {"combining": "chase"}, "channel": {"rate": {"model": "nr_mcs"}}}, "combining"),
    ({"medium": {"packet_size": "transport_block"}, "channel": {"rate": {"model": "nr_mcs"}}}, "packet_size"),
])
def test_what_needs_events_is_named(extra, reason):
    scn = scenario(**deep_merge(BASE, extra))
    got = events_needed(scn, build_radio(scn), scn.clients.availability == "always")
    assert got is not None and reason in got
    assert Engine(scn, workloads.create("none", scn.workload, scn.clients.count, scn.seed)).events_reason == got


@pytest.mark.parametrize("up,down", POLICIES)
@pytest.mark.parametrize("min_allocation", ["prb", "none"])
def test_energy_and_downlink_airtime_identical(up, down, min_allocation, tmp_path):
    # Prepare: every energy term on (PA efficiency, circuit, receive and idle power: the waiting time counts),
    # more uplink sharers than PRBs in a 5 MHz band (the one-PRB cap binds), a deadline that cuts some, ARQ losses.
    cfg = deep_merge(BASE, {
        "clients": {"count": 48, "device": {"pa_efficiency": 0.4, "tx_circuit_power_w": 0.1, "rx_power_w": 0.2,
                                            "idle_power_w": 0.05}},
        "cell": {"bandwidth_mhz": 5},
        "medium": {"uplink_sharing": up, "downlink_sharing": down, "packet_error_rate": 0.1,
                   "min_allocation": min_allocation},
        "round": {"deadline_s": 4.0},
    })
    assert takes_fast_path(cfg)
    # Execute
    events, fast = both(cfg, tmp_path, f"e-{min_allocation}")
    # Assert: the same bytes, with energy, downlink airtime and transmit power columns filled.
    assert fast == events
    rows = events["clients.csv"].decode().splitlines()
    header = rows[0].split(",")
    last = [dict(zip(header, r.split(","))) for r in rows[1:]]
    assert all(float(c["energy_j"]) > 0 for c in last)
    assert any(float(c["downlink_airtime_s"]) > 0 for c in last)
    assert {c["tx_power_dbm"] for c in last} == {"23.0"}


def test_fluid_sharing_by_hand():
    import simpy

    from channels.rate import ShannonRate
    from sim.core.fluid import fluid_transfers
    from sim.core.medium import make_medium

    # Prepare: 1 MHz at SNR 1 (1 bit/s/Hz: 1 Mbit/s alone), constant power density (rate proportional to the share).
    medium = make_medium(simpy.Environment(), 1e6, "ofdma", ShannonRate(), False)
    medium.begin_round(np.ones(4), 4)
    # 1 and 2 Mbit at 0 s, 0.25 Mbit at 1 s, nothing from client 3; the round closes at 3 s.
    clients, start = np.array([0, 1, 2, 3]), np.array([0.0, 0.0, 1.0, 1.0])
    # Execute
    out = fluid_transfers(medium, clients, start, np.array([1e6, 2e6, 0.25e6, 0.0]), 3.0)
    # Assert: halves until 1 s (0.5 and 1.5 Mbit left), thirds until client 2 is through at 1.75 s,
    # halves until client 0 is through at 2.25 s, then client 1 alone: 1 Mbit left at 2.25 s, cut at 3 s
    # with 2 - 0.25 Mbit sent.  The zero-bit transfer ends where it starts.
    np.testing.assert_allclose(out.end_s, [2.25, np.inf, 1.75, 1.0], rtol=1e-12)
    np.testing.assert_allclose(out.sent_bits, [1e6, 1.75e6, 0.25e6, 0.0], rtol=1e-12)
    assert out.seq.tolist() == [1, -1, 0, -1]


@pytest.mark.parametrize("list_max", [0, 4])
def test_fluid_forms_give_the_event_records(monkeypatch, list_max, tmp_path):
    # Prepare: an ofdma uplink with a proportional-fair downlink; the closed form's walk kept in arrays
    # throughout (0) or switching between lists and arrays every few transfers (4).
    from sim.core import fluid

    monkeypatch.setattr(fluid, "LIST_MAX", list_max)
    cfg = deep_merge(BASE, {
        "clients": {"count": 40},
        "medium": {"uplink_sharing": "ofdma", "downlink_sharing": "proportional_fair", "packet_error_rate": 0.1},
        "channel": {"fading": {"model": "rayleigh"}},
        "round": {"deadline_s": 4.0},
    })
    assert takes_fast_path(cfg)
    # Execute
    events, fast = both(cfg, tmp_path, f"forms{list_max}")
    # Assert
    assert fast == events
    assert ",deadline," in events["clients.csv"].decode()


def test_fixed_upload_is_used_only_where_it_speaks_for_the_class():
    from workloads.network_only import NetworkOnly

    class Halves(NetworkOnly):
        def local_update(self, client, round_index, budget):
            return Payload(self.up.bits // 2)

    # Prepare: network-only traffic declares its fixed upload and compute; a subclass changes the upload.
    scn = scenario(**BASE)
    plain = Engine(scn, NetworkOnly(scn.workload, 16, scn.seed))
    halves = Engine(scn, Halves(scn.workload, 16, scn.seed))
    assert plain.events_reason is None and NetworkOnly.fixed_upload_applies
    assert not Halves.fixed_upload_applies and Halves.fixed_work_applies
    # Execute
    a, b = plain.run(), halves.run()
    # Assert: the subclass's own payloads were sent.
    sent_a, sent_b = a.client_column("payload_bits"), b.client_column("payload_bits")
    assert set(sent_a[sent_a > 0].tolist()) == {2_000_000}
    assert set(sent_b[sent_b > 0].tolist()) == {1_000_000}
