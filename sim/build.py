"""From a validated scenario to the radio objects of a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from channels import Channel, Drop, Fading, ShannonRate, fixed, free_space_db, log_distance_db, uniform_disc
from channels.geometry import ring
from channels.hexgrid import hex_cell_points, hex_drop, hex_sites
from channels.interference import downlink_interference_w, sinr_cut_db, uplink_interference_w
from channels.link import dbm_to_w, thermal_noise_dbm
from channels.gilbert_elliott import GilbertElliott
from channels.mobility import Mobility, doppler_hz
from channels.shadowing import correlated_normals, evolve_normals
from channels.trace import read_trace
from channels.rate import RateModel, TimeShare, tdd_shares
from channels.tr38901 import (
    TR38901_MODELS,
    tr38901_los_probability,
    tr38901_pathloss_db,
    tr38901_shadowing_sigma_db,
)
from sim.rng import client_generators
from sim.scenario import Scenario

__all__ = ["Radio", "build_radio", "device_speeds"]

# TR 38.901 Table 7.6.3.1-2: correlation distance of the LOS/NLOS state [m].
LOS_CORRELATION_M = {"umi": 50.0, "uma": 50.0, "rma": 60.0, "inh": 10.0}

# fedwave's long-standing log-normal sigma for the non-3GPP models (a common
# urban macro figure; TR 38.901 gives per-scenario values for its own models).
DEFAULT_SHADOWING_SIGMA_DB = 8.0


@dataclass
class Radio:
    """The cell for one run; arrays are [num_clients].

    With moving clients, :meth:`advance` moves them: ``drop``, ``pathloss_db``
    and the channel's mean SNR then describe the latest time advanced to.  A
    drawn LOS state (``los: auto``) follows each client's path: a standard
    normal per client, AR(1) in displacement with TR 38.901's LOS correlation
    distance, gives LOS where its normal CDF is below the LOS probability at
    the client's new distance.  Shadowing follows each path when it has a
    correlation distance, and stays put otherwise.
    """

    drop: Drop
    los: np.ndarray
    pathloss_db: np.ndarray
    shadowing_db: np.ndarray
    channel: Channel
    rate: RateModel
    mobility: Mobility | None = None
    scenario: Scenario | None = None
    shadowing_sigma_db: np.ndarray | None = None
    shadowing_normals: np.ndarray | None = None
    shadowing_gens: list[np.random.Generator] | None = None
    los_normals: np.ndarray | None = None
    los_gens: list[np.random.Generator] | None = None

    def advance(self, t_s: float) -> None:
        """Move the clients to simulated time ``t_s`` and update the large-scale channel."""
        if self.mobility is None or not self.mobility.moving or self.scenario is None:
            return
        d = self.drop
        self.drop = Drop(self.mobility.positions(t_s), d.ue_height_m, d.bs_height_m)
        moved = np.hypot(*(self.drop.xy_m - d.xy_m).T)
        pl_cfg = self.scenario.channel.pathloss
        if self.los_normals is not None and self.los_gens is not None:
            los_model = pl_cfg.model if pl_cfg.model in TR38901_MODELS else "umi"
            w = np.array([g.standard_normal() for g in self.los_gens])
            self.los_normals = evolve_normals(self.los_normals, moved, LOS_CORRELATION_M[los_model], w)
            p_los = tr38901_los_probability(los_model, self.drop.distance_2d_m, self.drop.ue_height_m, pl_cfg.inh_office)
            self.los = ndtr(self.los_normals) < p_los
            if self.shadowing_sigma_db is not None and pl_cfg.model in TR38901_MODELS \
                    and self.scenario.channel.shadowing_sigma_db is None:
                # The TR's sigma depends on the LOS state (and RMa's on the distance).
                self.shadowing_sigma_db = tr38901_shadowing_sigma_db(
                    pl_cfg.model, self.los, self.drop.distance_2d_m, self.scenario.cell.carrier_ghz * 1e9,
                    self.drop.bs_height_m, self.drop.ue_height_m,
                )
                if self.shadowing_normals is not None:
                    self.shadowing_db = self.shadowing_sigma_db * self.shadowing_normals
        corr_m = self.scenario.channel.shadowing_correlation_m
        if corr_m is not None and self.shadowing_normals is not None and self.shadowing_gens is not None:
            w = np.array([g.standard_normal() for g in self.shadowing_gens])
            self.shadowing_normals = evolve_normals(self.shadowing_normals, moved, corr_m, w)
            self.shadowing_db = self.shadowing_sigma_db * self.shadowing_normals
        self.pathloss_db = _pathloss_db(self.scenario, self.drop, self.los)
        snr_ul, snr_dl = _mean_snr_db(self.scenario, self.pathloss_db + self.shadowing_db)
        self.channel.set_large_scale(snr_ul, snr_dl, self.drop.distance_3d_m)


def _drop(scn: Scenario) -> Drop:
    p, c = scn.clients.placement, scn.clients
    if p.kind == "fixed":
        if p.distances_m is None:
            raise ValueError("clients.placement.distances_m is required for kind fixed")
        return fixed(p.distances_m, c.height_m, scn.cell.bs_height_m)
    gens = client_generators(scn.seed, "placement", c.count)
    if p.kind == "ring":
        return ring(gens, p.radius_m, c.height_m, scn.cell.bs_height_m)
    if p.kind == "hex_grid":
        return hex_drop(gens, p.num_rings, p.isd_m, p.min_distance_m, c.height_m, scn.cell.bs_height_m)
    return uniform_disc(gens, p.radius_m, p.min_distance_m, c.height_m, scn.cell.bs_height_m)


def _one_per_client(scn: Scenario, purpose: str, draw: str) -> np.ndarray:
    gens = client_generators(scn.seed, purpose, scn.clients.count)
    return np.array([getattr(g, draw)() for g in gens])


def _pathloss_db(scn: Scenario, drop: Drop, los: np.ndarray) -> np.ndarray:
    pl_cfg = scn.channel.pathloss
    carrier_hz = scn.cell.carrier_ghz * 1e9
    if pl_cfg.model == "free_space":
        return free_space_db(drop.distance_3d_m, carrier_hz)
    if pl_cfg.model in TR38901_MODELS:
        return tr38901_pathloss_db(
            pl_cfg.model,
            drop.distance_2d_m,
            los,
            carrier_hz,
            drop.bs_height_m,
            drop.ue_height_m,
            pl_cfg.env_height_m,
            pl_cfg.building_height_m,
            pl_cfg.street_width_m,
        )
    exponent = np.where(los, pl_cfg.exponent_los, pl_cfg.exponent_nlos)
    return log_distance_db(drop.distance_3d_m, carrier_hz, exponent, pl_cfg.reference_m, pl_cfg.reference_loss_db)


def _mean_snr_db(scn: Scenario, loss_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uplink, downlink) mean full-band SNR [dB] for a total large-scale loss."""
    n = scn.clients.count
    if scn.channel.snr_db is not None:
        pinned = np.full(n, float(scn.channel.snr_db))
        return pinned, pinned
    bw_ul, bw_dl = _bandwidths_hz(scn)
    # Both antennas count in both directions (reciprocity).
    loss_db = loss_db - scn.cell.antenna_gain_dbi - scn.clients.antenna_gain_dbi
    snr_ul = scn.clients.tx_power_dbm - loss_db - thermal_noise_dbm(bw_ul, scn.cell.noise_figure_db)
    snr_dl = scn.cell.tx_power_dbm - loss_db - thermal_noise_dbm(bw_dl, scn.cell.noise_figure_db)
    return snr_ul, snr_dl


def _mean_gain(scn: Scenario, ue_xy_m: np.ndarray, bs_xy_m: np.ndarray) -> np.ndarray:
    """[pairs] linear gain, antennas included, of each UE-position/base-station pair.

    Averaged over the LOS state with the model's LOS probability under
    ``los: auto`` (interference is a mean power; drawing a LOS state per
    interfering link would add random streams for little), forced otherwise.
    Shadowing is left out: it is drawn for the serving link only.
    """
    pl = scn.channel.pathloss
    drop = Drop(ue_xy_m, scn.clients.height_m, scn.cell.bs_height_m, bs_xy_m=bs_xy_m)
    n = ue_xy_m.shape[0]
    if pl.model == "free_space" or pl.los == "los":
        p_los = np.ones(n)
    elif pl.los == "nlos":
        p_los = np.zeros(n)
    else:
        los_model = pl.model if pl.model in TR38901_MODELS else "umi"
        p_los = tr38901_los_probability(los_model, drop.distance_2d_m, drop.ue_height_m, pl.inh_office)
    gain = np.zeros(n)
    for state, weight in ((True, p_los), (False, 1.0 - p_los)):
        if np.any(weight > 0):
            gain += weight * 10.0 ** (-_pathloss_db(scn, drop, np.full(n, state)) / 10.0)
    return gain * 10.0 ** ((scn.cell.antenna_gain_dbi + scn.clients.antenna_gain_dbi) / 10.0)


def _interference_cut_db(scn: Scenario, drop: Drop) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uplink, downlink) [num_clients] SNR lost to the other cells at full load [dB], and the uplink I / N.

    Uplink interferers sit anywhere in their cells: the gain from cell j to
    site k is averaged over positions uniform in cell j's hexagon
    (:func:`channels.hexgrid.hex_cell_points`), not taken from its centre.
    """
    if drop.site is None:
        raise ValueError("full-load interference needs a multi-cell (hex_grid) drop")
    p = scn.clients.placement
    sites = hex_sites(p.num_rings, p.isd_m)
    n, num_sites = drop.xy_m.shape[0], sites.shape[0]
    to_sites = _mean_gain(scn, np.repeat(drop.xy_m, num_sites, axis=0), np.tile(sites, (n, 1)))
    i_dl = downlink_interference_w(to_sites.reshape(n, num_sites), drop.site, float(dbm_to_w(scn.cell.tx_power_dbm)))
    # [k, j]: a UE in cell j (mean over its position) heard by site k's base station (diagonal unused).
    k, j = np.nonzero(~np.eye(num_sites, dtype=bool))
    # About two million gain evaluations at most, whatever the number of cells.
    offsets = hex_cell_points(p.isd_m, p.min_distance_m, int(min(1600, max(64, 2_000_000 // k.shape[0]))))
    m = offsets.shape[0]
    ue = np.repeat(sites[j], m, axis=0) + np.tile(offsets, (k.shape[0], 1))
    between = np.zeros((num_sites, num_sites))
    between[k, j] = _mean_gain(scn, ue, np.repeat(sites[k], m, axis=0)).reshape(k.shape[0], m).mean(axis=1)
    i_ul = uplink_interference_w(between, drop.site, float(dbm_to_w(scn.clients.tx_power_dbm)))
    bw_ul, bw_dl = _bandwidths_hz(scn)
    nf = scn.cell.noise_figure_db
    noise_ul, noise_dl = (float(dbm_to_w(thermal_noise_dbm(bw, nf))) for bw in (bw_ul, bw_dl))
    return sinr_cut_db(i_ul, noise_ul), sinr_cut_db(i_dl, noise_dl), i_ul / noise_ul


def _bandwidths_hz(scn: Scenario) -> tuple[float, float]:
    bw_ul = scn.cell.bandwidth_mhz * 1e6
    if scn.cell.duplex == "tdd":
        return bw_ul, bw_ul  # one band, shared in time
    return bw_ul, (scn.cell.downlink_bandwidth_mhz or scn.cell.bandwidth_mhz) * 1e6


def _mobility(scn: Scenario, drop: Drop) -> Mobility | None:
    mob, p = scn.clients.mobility, scn.clients.placement
    if mob.kind == "static":
        return None
    gens = client_generators(scn.seed, "mobility", scn.clients.count)
    return Mobility(mob.kind, drop.xy_m, mob.speed_mps, p.radius_m, p.min_distance_m, gens)


def build_radio(scn: Scenario) -> Radio:
    n = scn.clients.count
    drop = _drop(scn)
    pl_cfg = scn.channel.pathloss
    carrier_hz = scn.cell.carrier_ghz * 1e9
    u_los = None
    if pl_cfg.model == "free_space" or pl_cfg.los == "los":
        los = np.ones(n, dtype=bool)
    elif pl_cfg.los == "nlos":
        los = np.zeros(n, dtype=bool)
    else:
        # log_distance has no LOS probability of its own: it borrows UMi's.
        los_model = pl_cfg.model if pl_cfg.model in TR38901_MODELS else "umi"
        p_los = tr38901_los_probability(los_model, drop.distance_2d_m, drop.ue_height_m, pl_cfg.inh_office)
        u_los = _one_per_client(scn, "los", "random")
        los = u_los < p_los
    pathloss = _pathloss_db(scn, drop, los)
    shadow = np.zeros(n)
    sigma_db = z = None
    if scn.channel.shadowing:
        sigma = scn.channel.shadowing_sigma_db
        if sigma is not None:
            sigma_db = np.full(n, sigma)
        elif pl_cfg.model in TR38901_MODELS:
            sigma_db = tr38901_shadowing_sigma_db(
                pl_cfg.model, los, drop.distance_2d_m, carrier_hz, drop.bs_height_m, drop.ue_height_m
            )
        else:
            sigma_db = np.full(n, DEFAULT_SHADOWING_SIGMA_DB)
        z = _one_per_client(scn, "shadowing", "standard_normal")
        if scn.channel.shadowing_correlation_m is not None:
            z = correlated_normals(drop.xy_m, scn.channel.shadowing_correlation_m, z)
        shadow = sigma_db * z
    snr_ul, snr_dl = _mean_snr_db(scn, pathloss + shadow)
    if scn.channel.interference == "full_load":
        # Placement hex_grid is static (scenario checks), so advance() never has to redo this.
        cut_ul, cut_dl, inr_ul = _interference_cut_db(scn, drop)
        snr_ul, snr_dl = snr_ul - cut_ul, snr_dl - cut_dl
    bw_ul, bw_dl = _bandwidths_hz(scn)

    f = scn.channel.fading
    mobility = _mobility(scn, drop)
    # Moving clients fade in time at their own Doppler unless doppler_hz says otherwise.
    f_d = f.doppler_hz
    if f_d is None and mobility is not None and mobility.moving:
        f_d = doppler_hz(mobility.speed_mps, carrier_hz)
    # The Rician LOS phase is drawn for every model so that all models consume
    # the fading streams identically (common random numbers across models).
    phase = 2 * np.pi * _one_per_client(scn, "los_phase", "random")
    fading = Fading(
        f.model,
        n,
        k_db=f.k_db,
        m=f.m,
        doppler_hz=f_d,
        los_phase_rad=phase,
        doppler_model=f.doppler_model,
        rngs=client_generators(scn.seed, "fading_process", n) if f_d is not None else None,
    )
    within = f.within_transfer == "blocks" or (f.within_transfer == "auto" and f_d is not None)
    rate, rate_dl = _rates(scn)
    ge = scn.channel.gilbert_elliott
    burst = None
    if ge.p_enter_bad > 0:
        gens = client_generators(scn.seed, "burst_loss", n)
        burst = GilbertElliott(gens, ge.p_enter_bad, ge.p_leave_bad, ge.loss_good, ge.loss_bad)
    trace = read_trace(scn.channel.trace, n) if scn.channel.trace is not None else None
    channel = Channel(
        snr_ul,
        snr_dl,
        fading,
        rate,
        bw_ul,
        bw_dl,
        drop.distance_3d_m,
        scn.medium.packet_error_rate,
        rate_dl,
        burst,
        trace,
        scn.channel.trace_export,
        within and f_d is not None,
    )
    if scn.channel.interference == "full_load":
        channel.inr_ul = inr_ul
    los_z = los_gens = None
    if u_los is not None and mobility is not None and mobility.moving:
        # The drop's uniform as a normal, to be carried along each path (the drop's LOS is U < P_LOS).
        los_z = ndtri(np.clip(u_los, 1e-300, 1.0 - 1e-16))
        los_gens = client_generators(scn.seed, "los_motion", n)
    motion_gens = None
    if z is not None and mobility is not None and scn.channel.shadowing_correlation_m is not None:
        motion_gens = client_generators(scn.seed, "shadowing_motion", n)
    return Radio(drop, los, pathloss, shadow, channel, rate, mobility, scn, sigma_db, z, motion_gens, los_z, los_gens)


def _rates(scn: Scenario) -> tuple[RateModel, RateModel]:
    """(uplink, downlink) rate models, times each direction's share of TDD slots."""
    ul, dl = _link_rates(scn)
    if scn.cell.duplex == "tdd":
        share_ul, share_dl = tdd_shares(scn.cell.tdd_pattern)
        return TimeShare(ul, share_ul), TimeShare(dl, share_dl)
    return ul, dl


def _link_rates(scn: Scenario) -> tuple[RateModel, RateModel]:
    """(uplink, downlink) rate models; nr_mcs loads Sionna (and torch) only when chosen."""
    cfg = scn.channel.rate
    if cfg.model == "shannon":
        shannon = ShannonRate(cfg.gap_db, cfg.max_se_bps_hz, cfg.snr_ceiling_db)
        return shannon, shannon
    from channels.nr_mcs import NrMcsRate

    ul, dl = (
        NrMcsRate.from_sionna(direction, cfg.mcs_table, cfg.bler_target, cfg.allocated_re)
        for direction in ("uplink", "downlink")
    )
    return ul, dl


def device_speeds(scn: Scenario) -> np.ndarray:
    """[num_clients] compute speed [FLOP/s], log-normal around the median."""
    dev = scn.clients.device
    return dev.flops_per_s * np.exp(dev.speed_sigma * _one_per_client(scn, "device", "standard_normal"))
