"""The radio through the whole chain: scenario file -> `fedwave run` -> clients.csv."""

import csv
import math

import numpy as np
import pytest

from sim.cli import main
from tests.channels.test_tr38901 import NS3_BS_HEIGHT_M, NS3_VECTORS


def run_clients_csv(tmp_path, write_yaml, data):
    out = tmp_path / "out"
    assert main(["run", str(write_yaml(data)), "--out", str(out), "--quiet"]) == 0
    with open(out / "clients.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model", ["umi", "uma", "rma", "inh"])
@pytest.mark.parametrize("los", ["los", "nlos"])
def test_fedwave_run_records_the_published_tr38901_loss(tmp_path, write_yaml, model, los):
    # ns-3 reference vectors (see tests/channels/test_tr38901.py) for this model and LOS state.
    vectors = [(d, -rx) for m, d, is_los, rx in NS3_VECTORS if m == model and is_los == (los == "los")]
    distances = [float(d) for d, _ in vectors]
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 1,
            "clients": {"count": len(distances), "placement": {"kind": "fixed", "distances_m": distances}},
            "cell": {"carrier_ghz": 5.0, "bs_height_m": NS3_BS_HEIGHT_M[model]},
            "channel": {"pathloss": {"model": model, "los": los}, "fading": {"model": "none"}},
        },
    )
    np.testing.assert_allclose([float(r["pathloss_db"]) for r in rows], [pl for _, pl in vectors], atol=0.05)
    # Mean SNR = 23 dBm - PL - (-174 dBm/Hz + 10 log10(20 MHz) + 7 dB).
    noise_dbm = -174 + 10 * np.log10(20e6) + 7.0
    np.testing.assert_allclose(
        [float(r["snr_db"]) for r in rows], [23.0 - pl - noise_dbm for _, pl in vectors], atol=0.05
    )


def test_standard_shadowing_sigma_is_used_per_los_state(tmp_path, write_yaml):
    # 400 UMi clients at 200 m with shadowing and no fading: the SNR spread is the
    # TR 38.901 sigma, 4 dB in LOS and 7.82 dB in NLOS (+-15 % for 400 samples).
    spread = {}
    for los in ("los", "nlos"):
        rows = run_clients_csv(
            tmp_path / los,
            write_yaml,
            {
                "rounds": 1,
                "clients": {"count": 400, "placement": {"kind": "fixed", "distances_m": [200.0] * 400}},
                "channel": {"pathloss": {"model": "umi", "los": los}, "shadowing": True, "fading": {"model": "none"}},
            },
        )
        spread[los] = np.std([float(r["snr_db"]) for r in rows])
    assert spread["los"] == pytest.approx(4.0, rel=0.15)
    assert spread["nlos"] == pytest.approx(7.82, rel=0.15)


def test_auto_los_follows_the_models_los_probability(tmp_path, write_yaml):
    # RMa at 1010 m: P(LOS) = exp(-1) (TR 38.901 Table 7.4.2-1); the LOS and NLOS
    # losses differ there, so the fraction of LOS clients shows in pathloss_db.
    n = 2000
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 1,
            "clients": {"count": n, "placement": {"kind": "fixed", "distances_m": [1010.0] * n}},
            "cell": {"bs_height_m": 35.0},
            "channel": {"pathloss": {"model": "rma", "los": "auto"}, "fading": {"model": "none"}},
        },
    )
    pl = np.array([float(r["pathloss_db"]) for r in rows])
    assert len(np.unique(pl.round(6))) == 2
    frac_los = np.mean(pl == pl.min())
    assert frac_los == pytest.approx(np.exp(-1.0), abs=4 * np.sqrt(np.exp(-1) * (1 - np.exp(-1)) / n))


def test_env_height_must_be_below_the_antennas(write_yaml):
    from sim.config.scenario import ScenarioError, load_scenario

    path = write_yaml("clients: {height_m: 1.5}\nchannel:\n  pathloss: {model: uma, env_height_m: 2.0}\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == (
        f"{path}:3: channel.pathloss.env_height_m: must be below clients.height_m and cell.bs_height_m "
        "for uma (got 2.0)"
    )


def test_nr_mcs_bler_drives_arq_retransmissions(tmp_path, write_yaml):
    """Sionna's TBLER at the SNR of the client's share of the band sets how often fedwave retransmits."""
    import torch
    from sionna.sys import InnerLoopLinkAdaptation, PHYAbstraction

    snr_db, packets, clients, max_attempts = 0.5, 1000, 4, 4
    phy = PHYAbstraction()
    # fdma_static over 4 clients: each holds B/4 with all its power there, so
    # its link runs at 4 times the full-band SNR.
    sinr = torch.tensor([clients * 10 ** (snr_db / 10)], dtype=torch.float32)
    re = torch.tensor([1728], dtype=torch.int32)
    mcs = InnerLoopLinkAdaptation(phy, bler_target=0.1)(sinr_eff=sinr, num_allocated_re=re, mcs_category=0)
    p = float(phy(mcs, sinr_eff=sinr, num_allocated_re=re, mcs_category=0)[3][0])
    assert 0.02 < p < 0.1  # the case is only telling if blocks do get lost

    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 1,
            "clients": {"count": clients},
            "channel": {"snr_db": snr_db, "fading": {"model": "none"}, "rate": {"model": "nr_mcs"}},
            "medium": {"packet_bits": 12000, "max_attempts": max_attempts},
            "round": {"deadline_s": 1000.0},
            "workload": {"payload_bits": 12000 * packets, "downlink_bits": 8},
        },
    )
    assert all(r["outcome"] == "delivered" for r in rows)
    # Every packet got through within M tries, so each one's tries are geometric truncated at M:
    # E[T | T <= M] = sum_j j p^(j-1) (1 - p) / (1 - p^M) = 1 / (1 - p) - M p^M / (1 - p^M).
    mean = 1 / (1 - p) - max_attempts * p**max_attempts / (1 - p**max_attempts)
    per_packet_sd = np.sqrt(p) / (1 - p)
    measured = sum(int(r["attempts"]) for r in rows) / (packets * clients)
    assert measured == pytest.approx(mean, abs=4 * per_packet_sd / np.sqrt(packets * clients))
    # The recorded rate is the whole band at the MCS's TS 38.214 spectral efficiency.
    se = {float(r["rate_bps"]) / 20e6 for r in rows}
    qpsk_entries = np.array([2 * r / 1024 for r in (120, 157, 193, 251, 308, 379, 449, 526, 602, 679)])
    assert len(se) == 1 and np.min(np.abs(qpsk_entries - se.pop())) < 1e-9


def test_nr_mcs_below_the_lowest_mcs_carries_nothing(tmp_path, write_yaml):
    # -12 dB over 3 shares with concentrated power is -7.2 dB on a share: log2(1 + 0.19) = 0.25
    # bit/s/Hz, below the lowest MCS (0.49), so no MCS can carry anything and nothing arrives.
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 1,
            "clients": {"count": 3},
            "channel": {"snr_db": -12.0, "fading": {"model": "none"}, "rate": {"model": "nr_mcs"}},
            "workload": {"downlink_bits": 8},
        },
    )
    assert {r["outcome"] for r in rows} <= {"deadline", "downlink_failure"}
    assert all(float(r["rate_bps"]) == 0.0 for r in rows)


def test_moving_clients_change_distance_path_loss_and_fade_at_their_doppler(tmp_path, write_yaml):
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    data = {
        "rounds": 4,
        "clients": {"count": 20, "placement": {"radius_m": 300}, "mobility": {"kind": "random_waypoint", "speed_mps": 15}},
        "cell": {"carrier_ghz": 3.5, "bs_height_m": 25},
        "channel": {"pathloss": {"model": "uma", "los": "nlos"}, "fading": {"model": "none"}},
        "round": {"deadline_s": 2.0},
    }
    # f_d = v f_c / c = 15 * 3.5e9 / 299792458 = 175.12 Hz.
    assert build_radio(scenario(**data)).channel.fading.doppler_hz == pytest.approx(175.1212, abs=1e-3)
    rows = run_clients_csv(tmp_path, write_yaml, data)
    by_round = {}
    for r in rows:
        by_round.setdefault(int(r["round"]), []).append(r)
    d = np.array([[float(r["distance_m"]) for r in by_round[k]] for k in range(4)])
    pl = np.array([[float(r["pathloss_db"]) for r in by_round[k]] for k in range(4)])
    # Rounds start 2 s apart: nobody's ground distance changes by more than v dt = 30 m, most do change.
    assert np.abs(np.diff(d, axis=0)).max() <= 30.0 + 1e-9
    assert np.mean(np.abs(np.diff(d, axis=0)) > 1.0) > 0.5
    # The recorded loss is the UMa NLOS loss at the recorded distance (TR 38.901 Table 7.4.1-1).
    from channels.tr38901 import tr38901_pathloss_db

    np.testing.assert_allclose(pl, tr38901_pathloss_db("uma", d, False, 3.5e9, 25.0, 1.5), atol=1e-6)


def test_mobility_needs_a_disc(write_yaml):
    from sim.config.scenario import ScenarioError, load_scenario

    path = write_yaml(
        "clients:\n  count: 1\n  placement: {kind: fixed, distances_m: [50]}\n  mobility: {kind: random_waypoint}\n"
    )
    with pytest.raises(ScenarioError, match="clients.mobility.kind: random_waypoint needs placement kind uniform_disc"):
        load_scenario(path)


@pytest.mark.parametrize("name", ["cell_umi.yaml", "cell_uma_mobility.yaml", "snr_sweep_nr.yaml"])
def test_radio_scenarios_validate(name):
    from pathlib import Path

    from sim.config.scenario import load_scenario

    scn = load_scenario(Path(__file__).parents[2] / "scenarios" / name, ["channel.snr_db=5"] if "sweep" in name else [])
    assert scn.channel.pathloss.model in ("umi", "uma")


def test_gilbert_elliott_bad_rounds_lose_the_link(tmp_path, write_yaml):
    # Bad loses every packet both ways, so a Bad round is a downlink failure;
    # P(Bad) = 0.3 / (0.3 + 0.5) = 0.375 in every round (stationary start).
    clients, rounds = 200, 5
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": rounds,
            "clients": {"count": clients},
            "channel": {
                "snr_db": 30.0,
                "fading": {"model": "none"},
                "gilbert_elliott": {"p_enter_bad": 0.3, "p_leave_bad": 0.5, "loss_bad": 1.0},
            },
            "workload": {"payload_bits": 10_000, "downlink_bits": 10_000},
        },
    )
    failed = np.array([r["outcome"] == "downlink_failure" for r in rows])
    assert {r["outcome"] for r in rows} == {"delivered", "downlink_failure"}
    n = clients * rounds
    assert failed.mean() == pytest.approx(0.375, abs=4 * np.sqrt(0.375 * 0.625 / n))


def test_correlated_shadowing_through_fedwave_run(tmp_path, write_yaml):
    # 200 pairs of clients 0.5 m apart, pairs 2 km apart; d_cor = 20 m, sigma = 8 dB.
    # Within a pair rho = exp(-0.5 / 20), so the shadowing difference has
    # sd 8 sqrt(2 (1 - rho)) = 1.78 dB (11.3 dB if independent).
    pairs = 200
    distances = [d for k in range(pairs) for d in (100.0 + 2000 * k, 100.5 + 2000 * k)]
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 1,
            "clients": {"count": 2 * pairs, "placement": {"kind": "fixed", "distances_m": distances}},
            "channel": {
                "pathloss": {"model": "free_space", "los": "los"},
                "shadowing": True,
                "shadowing_sigma_db": 8.0,
                "shadowing_correlation_m": 20.0,
                "fading": {"model": "none"},
            },
        },
    )
    noise_dbm = -174 + 10 * np.log10(20e6) + 7.0
    shadow = np.array([23.0 - noise_dbm - float(r["pathloss_db"]) - float(r["snr_db"]) for r in rows])
    diff = shadow[0::2] - shadow[1::2]
    expected = 8.0 * np.sqrt(2 * (1 - np.exp(-0.5 / 20)))
    assert diff.std() == pytest.approx(expected, rel=0.2)
    assert shadow.std() == pytest.approx(8.0, rel=0.2)


def test_shadowing_decorrelates_along_a_moving_clients_path():
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    # 2000 clients at 2 m/s for 1 s move 2 m each (no edge in reach); d_cor = 4 m,
    # so each client's shadowing keeps correlation exp(-2 / 4) with its start.
    radio = build_radio(
        scenario(
            clients={"count": 2000, "placement": {"radius_m": 2000}, "mobility": {"kind": "constant_velocity", "speed_mps": 2}},
            channel={"shadowing": True, "shadowing_correlation_m": 4.0},
        )
    )
    s0 = radio.shadowing_db.copy()
    radio.advance(1.0)
    assert np.corrcoef(s0, radio.shadowing_db)[0, 1] == pytest.approx(np.exp(-0.5), abs=0.06)


def test_exported_trace_replays_the_same_channel(tmp_path, write_yaml):
    """Run A exports its channel; run B replays it: identical clients.csv, and Shannon
    vs nr_mcs could now be compared on one channel."""
    base = {
        "seed": 4,
        "rounds": 3,
        "clients": {"count": 6},
        # A trace holds each round's draw, so the exporting run keeps it frozen within the round.
        "channel": {
            "pathloss": {"model": "umi"},
            "shadowing": True,
            "fading": {"doppler_hz": 5.0, "within_transfer": "frozen"},
        },
        "medium": {"packet_error_rate": 0.1},
        "round": {"deadline_s": 1.0},
    }
    a = tmp_path / "a"
    assert main(["run", str(write_yaml(base, "a.yaml")), "--out", str(a), "--quiet", "--set", "channel.trace_export=true"]) == 0
    b = tmp_path / "b"
    trace = str(a / "channel_trace.csv")
    assert main(["run", str(write_yaml(base, "b.yaml")), "--out", str(b), "--quiet", "--set", f"channel.trace={trace}"]) == 0
    assert (a / "clients.csv").read_bytes() == (b / "clients.csv").read_bytes()
    assert not (b / "channel_trace.csv").exists()


def test_hand_written_trace_is_sample_and_hold(tmp_path, write_yaml):
    trace = tmp_path / "t.csv"
    # Client 0 at 10 dB, then 20 dB from t = 1.5 s; client 1 only sampled at t = 0.7 s.
    trace.write_text("time_s,client,snr_db\n0,0,10\n1.5,0,20\n0.7,1,3\n")
    rows = run_clients_csv(
        tmp_path,
        write_yaml,
        {
            "rounds": 3,
            "clients": {"count": 2},
            "channel": {"trace": str(trace)},
            "round": {"deadline_s": 1.0},
            "workload": {"payload_bits": 10**9},
        },
    )
    # 1 Gbit never gets through, so every round runs to its deadline: rounds start at 0, 1 and 2 s.
    starts = {}
    for r in rows:
        starts.setdefault(int(r["round"]), []).append(float(r["snr_db"]))
    assert starts[0] == [10.0, 3.0]
    assert starts[2] == [20.0, 3.0]


def test_bad_trace_is_a_one_line_scenario_error(tmp_path, write_yaml):
    from sim.config.scenario import ScenarioError, load_scenario

    trace = tmp_path / "t.csv"
    trace.write_text("time_s,client,snr_db\n0,0,10\n")
    path = write_yaml({"clients": {"count": 2}, "channel": {"trace": str(trace)}})
    with pytest.raises(ScenarioError, match=r"channel.trace: .*no samples for client 1"):
        load_scenario(path)


def test_antenna_gains_add_to_the_snr_both_ways(tmp_path, write_yaml):
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    base = {"clients": {"count": 3, "placement": {"kind": "ring", "radius_m": 80}}, "channel": {"fading": {"model": "none"}}}
    plain = build_radio(scenario(**base)).channel
    gains = {"clients": {**base["clients"], "antenna_gain_dbi": 2.0}, "cell": {"antenna_gain_dbi": 15.0}, "channel": base["channel"]}
    gained = build_radio(scenario(**gains)).channel
    np.testing.assert_allclose(gained.mean_snr_ul_db - plain.mean_snr_ul_db, 17.0)
    np.testing.assert_allclose(gained.mean_snr_dl_db - plain.mean_snr_dl_db, 17.0)


def test_hex_grid_cells_share_their_own_band(tmp_path, write_yaml):
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    # fdma_static: a client of a cell with n_c clients gets B / n_c at SNR n_c s
    # (uplink power concentration), so its airtime is bits / ((B / n_c) log2(1 + n_c s)).
    data = {
        "rounds": 1,
        "clients": {"count": 30, "placement": {"kind": "hex_grid", "num_rings": 1, "isd_m": 300}},
        "channel": {"snr_db": 10.0, "fading": {"model": "none"}},
        "round": {"deadline_s": 100.0},
        "workload": {"payload_bits": 1_000_000, "downlink_bits": 8},
    }
    site = build_radio(scenario(**data)).drop.site
    rows = run_clients_csv(tmp_path, write_yaml, data)
    n_c = np.bincount(site)[site]
    expected = 1_000_000 / (20e6 / n_c * np.log2(1 + n_c * 10.0))
    np.testing.assert_allclose([float(r["airtime_s"]) for r in rows], expected, rtol=1e-9)
    assert len(set(site.tolist())) > 1


@pytest.mark.parametrize(
    "extra",
    [
        {
            "clients": {"count": 12, "mobility": {"kind": "constant_velocity", "speed_mps": 20}},
            "channel": {
                "pathloss": {"model": "uma"},
                "shadowing": True,
                "shadowing_correlation_m": 50.0,
                "gilbert_elliott": {"p_enter_bad": 0.2},
                "rate": {"model": "nr_mcs"},
            },
        },
        {"clients": {"count": 12, "placement": {"kind": "hex_grid"}}, "channel": {"pathloss": {"model": "rma"}}},
        {
            "clients": {"count": 20, "placement": {"kind": "hex_grid"}},
            "channel": {"pathloss": {"model": "umi"}, "interference": "full_load", "shadowing": True},
            "medium": {"uplink_sharing": "proportional_fair", "downlink_sharing": "proportional_fair"},
        },
    ],
)
def test_same_seed_same_bytes(tmp_path, write_yaml, extra):
    data = {"seed": 9, "rounds": 3, "round": {"deadline_s": 2.0}, **extra}
    outs = []
    for name in ("x", "y"):
        out = tmp_path / name
        assert main(["run", str(write_yaml(data)), "--out", str(out), "--quiet"]) == 0
        outs.append(out)
    for f in ("clients.csv", "rounds.csv"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes()


def test_proportional_fair_through_fedwave_run(tmp_path, write_yaml):
    from channels.proportional_fair import pf_shares
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    # No broadcast, no compute: each client starts its 1 Mbit upload once the
    # (empty) broadcast has reached it, one propagation delay after t = 0. The
    # nearer client sends alone until the farther one starts, then the PF
    # split holds until one is through, then the other has the band alone.
    data = {
        "rounds": 1,
        "clients": {"count": 2, "placement": {"kind": "fixed", "distances_m": [30.0, 400.0]}},
        # Uncapped: the hand split below is on the capacity curve (the near client would hit the NR cap).
        "channel": {"fading": {"model": "none"}, "pathloss": {"los": "los"}, "rate": {"max_se_bps_hz": None}},
        "medium": {"uplink_sharing": "proportional_fair", "downlink_sharing": "proportional_fair"},
        "round": {"deadline_s": 100.0},
        "workload": {"payload_bits": 1_000_000, "downlink_bits": 0, "work_flop": 0},
    }
    bw, bits = 20e6, 1e6
    radio = build_radio(scenario(**data))
    s = 10 ** (radio.channel.mean_snr_ul_db / 10)
    start = radio.channel.latency_s
    alone = bw * np.log2(1 + s)
    b, _ = pf_shares(s * bw, bw)
    shared = b * np.log2(1 + s * bw / b)
    rem = np.full(2, bits)
    rem[0] -= alone[0] * (start[1] - start[0])
    first = int(np.argmin(rem / shared))
    t1 = start[1] + rem[first] / shared[first]
    other = 1 - first
    t2 = t1 + (rem[other] - shared[other] * (t1 - start[1])) / alone[other]
    rows = run_clients_csv(tmp_path, write_yaml, data)
    airtime = [float(row["airtime_s"]) for row in rows]
    assert airtime[first] == pytest.approx(t1 - start[first], rel=1e-9)
    assert airtime[other] == pytest.approx(t2 - start[other], rel=1e-9)
    assert [row["outcome"] for row in rows] == ["delivered", "delivered"]
    assert abs(b[0] - b[1]) > 0.01 * bw  # not the equal split


def friis_gain(d3_m, carrier_hz):
    return (299_792_458.0 / (4 * np.pi * d3_m * carrier_hz)) ** 2


def mean_friis_over_hexagon(centre_xy, isd_m, keep_out_m, dh_m, carrier_hz):
    """Mean Friis gain to the origin from a point uniform over a flat-topped hexagon
    centred at ``centre_xy``, less a disc of ``keep_out_m`` around its centre."""
    from scipy import integrate

    big_r = isd_m / math.sqrt(3)
    cx, cy = centre_xy

    def g(y, x):
        return friis_gain(math.sqrt((cx + x) ** 2 + (cy + y) ** 2 + dh_m**2), carrier_hz)

    def half(x):
        return min(math.sqrt(3) / 2 * big_r, math.sqrt(3) * (big_r - abs(x)))

    hexagon, _ = integrate.dblquad(g, -big_r, big_r, lambda x: -half(x), half, epsabs=0, epsrel=1e-10)
    disc, _ = integrate.dblquad(
        lambda r, t: g(r * math.sin(t), r * math.cos(t)) * r, 0, 2 * math.pi, 0, keep_out_m, epsabs=0, epsrel=1e-10
    )
    return (hexagon - disc) / (1.5 * math.sqrt(3) * big_r**2 - math.pi * keep_out_m**2)


def test_full_load_interference_matches_hand_computed_sinr(tmp_path, write_yaml):
    from channels.hexgrid import hex_sites
    from sim.core.engine import scenario_radio as build_radio
    from tests.conftest import scenario

    base = {
        "seed": 3,
        "rounds": 1,
        "clients": {"count": 12, "placement": {"kind": "hex_grid", "num_rings": 1, "isd_m": 200}},
        "channel": {"pathloss": {"model": "free_space"}, "fading": {"model": "none"}},
    }
    loud = {**base, "channel": {**base["channel"], "interference": "full_load"}}
    quiet_radio, loud_radio = build_radio(scenario(**base)), build_radio(scenario(**loud))
    drop = quiet_radio.drop
    sites = hex_sites(1, 200.0)
    f, h = 3.5e9, 10.0 - 1.5
    noise_w = 10 ** ((-174 + 10 * np.log10(20e6) + 7.0 - 30) / 10)
    # Downlink: 43 dBm = 19.95 W from each of the six other sites, Friis over the 3D distance.
    for i in range(12):
        others = [j for j in range(7) if j != drop.site[i]]
        d3 = np.hypot(np.hypot(*(drop.xy_m[i] - sites[others]).T), h)
        interference = 10 ** ((43 - 30) / 10) * friis_gain(d3, f).sum()
        cut = quiet_radio.channel.mean_snr_dl_db[i] - loud_radio.channel.mean_snr_dl_db[i]
        assert cut == pytest.approx(10 * np.log10(1 + interference / noise_w), rel=1e-9)
    # Uplink at the central site: on each share, one 23 dBm UE per neighbour, uniform over its
    # hexagon (10 m keep-out around its site): the mean of Friis over the hexagon by scipy's
    # dblquad, independent of fedwave's grid average. The six neighbours are alike by symmetry.
    i_centre = 6 * 10 ** ((23 - 30) / 10) * mean_friis_over_hexagon((0.0, 200.0), 200.0, 10.0, h, f)
    centre = drop.site == 0
    assert centre.any()
    inr = loud_radio.channel.inr_ul
    np.testing.assert_allclose(inr[centre], i_centre / noise_w, rtol=3e-3)
    # The centre of the cell would understate it (1/L is convex in distance).
    assert 6 * 10 ** ((23 - 30) / 10) * friis_gain(math.hypot(200.0, h), f) < 0.9 * i_centre
    cut_ul = quiet_radio.channel.mean_snr_ul_db - loud_radio.channel.mean_snr_ul_db
    np.testing.assert_allclose(cut_ul[centre], 10 * np.log10(1 + i_centre / noise_w), rtol=3e-3)
    # Power concentration on both sides: a share B / N of fdma_static carries
    # B/N log2(1 + S / (N0 B / N + I)), S the wanted power, I the full interferer power.
    from sim.core.engine import Engine
    import workloads

    scn = scenario(**loud)
    engine = Engine(scn, workloads.create("none", scn.workload, 12, scn.seed), loud_radio)
    engine.uplink.begin_round(10 ** (loud_radio.channel.mean_snr_ul_db / 10), 12)
    n_centre = int(centre.sum())
    for i in np.flatnonzero(centre):
        d3 = math.hypot(float(np.hypot(*drop.xy_m[i])), h)
        wanted_w = 10 ** ((23 - 30) / 10) * friis_gain(d3, f)
        sinr = wanted_w / (noise_w / n_centre + i_centre)
        expected = 20e6 / n_centre * min(np.log2(1 + sinr), 8 * 948 / 1024)
        assert engine.uplink.expected_rate_bps(int(i)) == pytest.approx(expected, rel=3e-3)
    # Through fedwave run: the recorded SNR is the SINR (no fading, so the mean).
    rows = run_clients_csv(tmp_path, write_yaml, loud)
    np.testing.assert_allclose([float(r["snr_db"]) for r in rows], loud_radio.channel.mean_snr_ul_db, atol=1e-6)


@pytest.mark.parametrize(
    "extra, why",
    [
        ({}, "needs clients.placement.kind hex_grid"),
        ({"clients": {"placement": {"kind": "hex_grid"}}, "channel": {"snr_db": 5}}, "channel.snr_db pins it"),
    ],
)
def test_full_load_needs_a_hex_grid_and_geometry(write_yaml, extra, why):
    from sim.config.scenario import ScenarioError, load_scenario
    from tests.conftest import deep_merge

    data = deep_merge({"channel": {"interference": "full_load"}}, extra)
    with pytest.raises(ScenarioError, match=f"channel.interference: .*{why}"):
        load_scenario(write_yaml(data))
