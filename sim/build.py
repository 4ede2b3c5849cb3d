"""From a validated scenario to the radio objects of a run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from channels import Channel, Drop, Fading, ShannonRate, fixed, free_space_db, log_distance_db, uniform_disc
from channels.link import thermal_noise_dbm
from channels.rate import RateModel
from channels.tr38901 import (
    TR38901_MODELS,
    tr38901_los_probability,
    tr38901_pathloss_db,
    tr38901_shadowing_sigma_db,
)
from sim.rng import client_generators
from sim.scenario import Scenario

__all__ = ["Radio", "build_radio", "device_speeds"]

# fedwave's long-standing log-normal sigma for the non-3GPP models (a common
# urban macro figure; TR 38.901 gives per-scenario values for its own models).
DEFAULT_SHADOWING_SIGMA_DB = 8.0


@dataclass(frozen=True)
class Radio:
    """Everything static about the cell for one run; arrays are [num_clients]."""

    drop: Drop
    los: np.ndarray
    pathloss_db: np.ndarray
    shadowing_db: np.ndarray
    channel: Channel
    rate: RateModel


def _drop(scn: Scenario) -> Drop:
    p, c = scn.clients.placement, scn.clients
    if p.kind == "fixed":
        if p.distances_m is None:
            raise ValueError("clients.placement.distances_m is required for kind fixed")
        return fixed(p.distances_m, c.height_m, scn.cell.bs_height_m)
    gens = client_generators(scn.seed, "placement", c.count)
    return uniform_disc(gens, p.radius_m, p.min_distance_m, c.height_m, scn.cell.bs_height_m)


def _one_per_client(scn: Scenario, purpose: str, draw: str) -> np.ndarray:
    gens = client_generators(scn.seed, purpose, scn.clients.count)
    return np.array([getattr(g, draw)() for g in gens])


def build_radio(scn: Scenario) -> Radio:
    n = scn.clients.count
    drop = _drop(scn)
    pl_cfg = scn.channel.pathloss
    carrier_hz = scn.cell.carrier_ghz * 1e9
    d3 = drop.distance_3d_m
    if pl_cfg.model == "free_space" or pl_cfg.los == "los":
        los = np.ones(n, dtype=bool)
    elif pl_cfg.los == "nlos":
        los = np.zeros(n, dtype=bool)
    else:
        # log_distance has no LOS probability of its own: it borrows UMi's.
        los_model = pl_cfg.model if pl_cfg.model in TR38901_MODELS else "umi"
        p_los = tr38901_los_probability(los_model, drop.distance_2d_m, drop.ue_height_m, pl_cfg.inh_office)
        los = _one_per_client(scn, "los", "random") < p_los
    if pl_cfg.model == "free_space":
        pathloss = free_space_db(d3, carrier_hz)
    elif pl_cfg.model in TR38901_MODELS:
        pathloss = tr38901_pathloss_db(
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
    else:
        exponent = np.where(los, pl_cfg.exponent_los, pl_cfg.exponent_nlos)
        pathloss = log_distance_db(d3, carrier_hz, exponent, pl_cfg.reference_m, pl_cfg.reference_loss_db)
    shadow = np.zeros(n)
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
        shadow = sigma_db * _one_per_client(scn, "shadowing", "standard_normal")

    bw_ul = scn.cell.bandwidth_mhz * 1e6
    bw_dl = (scn.cell.downlink_bandwidth_mhz or scn.cell.bandwidth_mhz) * 1e6
    if scn.channel.snr_db is not None:
        snr_ul = snr_dl = np.full(n, float(scn.channel.snr_db))
    else:
        loss = pathloss + shadow
        snr_ul = scn.clients.tx_power_dbm - loss - thermal_noise_dbm(bw_ul, scn.cell.noise_figure_db)
        snr_dl = scn.cell.tx_power_dbm - loss - thermal_noise_dbm(bw_dl, scn.cell.noise_figure_db)

    f = scn.channel.fading
    # The Rician LOS phase is drawn for every model so that all models consume
    # the fading streams identically (common random numbers across models).
    phase = 2 * np.pi * _one_per_client(scn, "los_phase", "random")
    fading = Fading(f.model, n, k_db=f.k_db, m=f.m, doppler_hz=f.doppler_hz, los_phase_rad=phase)
    rate, rate_dl = _rates(scn)
    channel = Channel(snr_ul, snr_dl, fading, rate, bw_ul, bw_dl, d3, scn.medium.packet_error_rate, rate_dl)
    return Radio(drop, los, pathloss, shadow, channel, rate)


def _rates(scn: Scenario) -> tuple[RateModel, RateModel]:
    """(uplink, downlink) rate models; nr_mcs loads Sionna (and torch) only when chosen."""
    cfg = scn.channel.rate
    if cfg.model == "shannon":
        shannon = ShannonRate(cfg.gap_db, cfg.max_se_bps_hz)
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
