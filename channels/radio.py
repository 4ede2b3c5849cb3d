"""The radio of one run, built from a :class:`~channels.config.RadioConfig` in one call.

:func:`build_radio` owns the whole assembly: the drop (geometry), the
path-loss model (a registered class; it generates the LOS states and
shadowing, then applies the loss), the link budget, full-load interference,
fading processes, rate models, burst losses, SNR traces and mobility.  The
engine then asks the :class:`Radio` only for link states
(:meth:`Radio.link_states`), positions and losses for its records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from channels.config import RadioConfig, Streams
from channels.fading import Fading
from channels.geometry import Drop, fixed, ring, uniform_disc
from channels.gilbert_elliott import GilbertElliott
from channels.hexgrid import hex_drop
from channels.interference import full_load_cut_db
from channels.link import Channel, LinkState, thermal_noise_dbm
from channels.mobility import Mobility, doppler_hz
from channels.pathloss import LargeScale, PathLossModel, pathloss_model
from channels.rate import RateModel, ShannonRate, TimeShare, tdd_shares
from channels.trace import read_trace

__all__ = ["Radio", "build_radio"]


@dataclass
class Radio:
    """The cell (or hex grid of cells) for one run; arrays are [num_clients].

    With moving clients, :meth:`link_states` moves them first: ``drop``,
    ``pathloss_db`` and the channel's mean SNR then describe the latest time
    asked for, the large-scale state following each path
    (:meth:`~channels.pathloss.PathLossModel.follow`).
    """

    cfg: RadioConfig
    drop: Drop
    model: PathLossModel
    large_scale: LargeScale
    pathloss_db: np.ndarray
    channel: Channel
    rate: RateModel
    mobility: Mobility | None = None
    los_gens: list[np.random.Generator] | None = None
    shadowing_gens: list[np.random.Generator] | None = None

    @property
    def los(self) -> np.ndarray:
        """[num_clients] True where the link is line of sight."""
        return self.large_scale.los

    @property
    def shadowing_db(self) -> np.ndarray:
        """[num_clients] shadowing [dB] (zeros without shadowing)."""
        return self.large_scale.shadowing_db

    @property
    def coupling_db(self) -> np.ndarray:
        """[num_clients] coupling loss: path loss and shadowing less both antenna gains [dB]."""
        return self.pathloss_db + self.shadowing_db - self.cfg.cell.antenna_gains_db

    @property
    def num_cells(self) -> int:
        return 1 if self.drop.site is None else int(self.drop.site.max()) + 1

    def link_states(self, t_s: float, normals: np.ndarray) -> tuple[LinkState, LinkState]:
        """(uplink, downlink) states at simulated time ``t_s``, clients moved there first.

        normals : [num_clients, 2] the fading draw's standard normals (see :meth:`Channel.states`)
        """
        self.advance(t_s)
        return self.channel.states(t_s, normals)

    def block_ratios(self, t0_s: float, duration_s: float) -> tuple[np.ndarray, float, float] | None:
        """Fading within ``duration_s`` from ``t0_s`` per coherence block (see :meth:`Channel.block_ratios`); None: it holds."""
        return self.channel.block_ratios(t0_s, duration_s)

    def advance(self, t_s: float) -> None:
        """Move the clients to simulated time ``t_s`` and update the large-scale channel."""
        if self.mobility is None or not self.mobility.moving:
            return
        d = self.drop
        self.drop = Drop(self.mobility.positions(t_s), d.ue_height_m, d.bs_height_m)
        moved = np.hypot(*(self.drop.xy_m - d.xy_m).T)
        los_w = None if self.los_gens is None else np.array([g.standard_normal() for g in self.los_gens])
        sh_w = None if self.shadowing_gens is None else np.array([g.standard_normal() for g in self.shadowing_gens])
        self.large_scale = self.model.follow(self.large_scale, self.drop, moved, self.cfg.shadowing, los_w, sh_w)
        self.pathloss_db = self.model.apply(self.drop, self.large_scale.los)
        snr_ul, snr_dl = _mean_snr_db(self.cfg, self.pathloss_db + self.shadowing_db)
        self.channel.set_large_scale(snr_ul, snr_dl, self.drop.distance_3d_m)


def build_radio(cfg: RadioConfig, streams: Streams) -> Radio:
    """The radio of ``cfg``, every random draw from ``streams`` (one generator per client and purpose)."""
    n, cell = cfg.num_clients, cfg.cell
    drop = _drop(cfg, streams)
    model = pathloss_model(cfg.pathloss, cell.carrier_hz)
    state = model.generate(drop, streams, cfg.shadowing)
    pathloss = model.apply(drop, state.los)
    snr_ul, snr_dl = _mean_snr_db(cfg, pathloss + state.shadowing_db)
    inr_ul = None
    if cfg.interference == "full_load":
        # Placement hex_grid is static (the scenario checks it), so advance() never has to redo this.
        cut_ul, cut_dl, inr_ul = full_load_cut_db(model, drop, cell, cfg.placement)
        snr_ul, snr_dl = snr_ul - cut_ul, snr_dl - cut_dl
    elif cfg.interference != "none":
        raise ValueError(f"interference {cfg.interference!r} is not one of none, full_load")
    bw_ul, bw_dl = cell.bandwidths_hz
    f = cfg.fading
    mobility = _mobility(cfg, drop, streams)
    moving = mobility is not None and mobility.moving
    # Moving clients fade in time at their own Doppler unless doppler_hz says otherwise.
    f_d = f.doppler_hz
    if f_d is None and mobility is not None and moving:
        f_d = doppler_hz(mobility.speed_mps, cell.carrier_hz)
    # The Rician LOS phase is drawn for every model so that all models consume
    # the fading streams identically (common random numbers across models).
    phase = 2 * np.pi * np.array([g.random() for g in streams.clients("los_phase", n)])
    fading = Fading(
        f.model,
        n,
        k_db=f.k_db,
        m=f.m,
        doppler_hz=f_d,
        los_phase_rad=phase,
        doppler_model=f.doppler_model,
        rngs=streams.clients("fading_process", n) if f_d is not None else None,
    )
    within = f.within_transfer == "blocks" or (f.within_transfer == "auto" and f_d is not None)
    rate, rate_dl = _rates(cfg)
    ge = cfg.burst_loss
    burst = None
    if ge.p_enter_bad > 0:
        burst = GilbertElliott(streams.clients("burst_loss", n), ge.p_enter_bad, ge.p_leave_bad, ge.loss_good, ge.loss_bad)
    trace = read_trace(cfg.trace, n) if cfg.trace is not None else None
    channel = Channel(
        snr_ul,
        snr_dl,
        fading,
        rate,
        bw_ul,
        bw_dl,
        drop.distance_3d_m,
        cfg.packet_error_rate,
        rate_dl,
        burst,
        trace,
        cfg.trace_export,
        within and f_d is not None,
    )
    if inr_ul is not None:
        channel.inr_ul = inr_ul
    los_gens = streams.clients("los_motion", n) if state.draws_los and moving else None
    shadowing_gens = None
    if state.shadowing_normals is not None and mobility is not None and cfg.shadowing.correlation_m is not None:
        shadowing_gens = streams.clients("shadowing_motion", n)
    return Radio(cfg, drop, model, state, pathloss, channel, rate, mobility, los_gens, shadowing_gens)


def _drop(cfg: RadioConfig, streams: Streams) -> Drop:
    p, cell, n = cfg.placement, cfg.cell, cfg.num_clients
    if p.kind == "fixed":
        if p.distances_m is None:
            raise ValueError("placement distances_m is required for kind fixed")
        return fixed(list(p.distances_m), cell.ue_height_m, cell.bs_height_m)
    if p.kind not in ("ring", "hex_grid", "uniform_disc"):
        raise ValueError(f"placement kind {p.kind!r} is not one of uniform_disc, fixed, ring, hex_grid")
    gens = streams.clients("placement", n)
    if p.kind == "ring":
        return ring(gens, p.radius_m, cell.ue_height_m, cell.bs_height_m)
    if p.kind == "hex_grid":
        return hex_drop(gens, p.num_rings, p.isd_m, p.min_distance_m, cell.ue_height_m, cell.bs_height_m)
    return uniform_disc(gens, p.radius_m, p.min_distance_m, cell.ue_height_m, cell.bs_height_m)


def _mean_snr_db(cfg: RadioConfig, loss_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uplink, downlink) mean full-band SNR [dB] for a total large-scale loss."""
    cell = cfg.cell
    if cell.snr_db is not None:
        pinned = np.full(cfg.num_clients, float(cell.snr_db))
        return pinned, pinned
    bw_ul, bw_dl = cell.bandwidths_hz
    # Both antennas count in both directions (reciprocity).
    loss_db = loss_db - cell.bs_antenna_gain_dbi - cell.ue_antenna_gain_dbi
    snr_ul = cell.ue_tx_power_dbm - loss_db - thermal_noise_dbm(bw_ul, cell.noise_figure_db)
    snr_dl = cell.bs_tx_power_dbm - loss_db - thermal_noise_dbm(bw_dl, cell.noise_figure_db)
    return snr_ul, snr_dl


def _mobility(cfg: RadioConfig, drop: Drop, streams: Streams) -> Mobility | None:
    mob, p = cfg.mobility, cfg.placement
    if mob.kind == "static":
        return None
    gens = streams.clients("mobility", cfg.num_clients)
    return Mobility(mob.kind, drop.xy_m, mob.speed_mps, p.radius_m, p.min_distance_m, gens)


def _rates(cfg: RadioConfig) -> tuple[RateModel, RateModel]:
    """(uplink, downlink) rate models, times each direction's share of TDD slots."""
    ul, dl = _link_rates(cfg)
    if cfg.cell.duplex == "tdd":
        share_ul, share_dl = tdd_shares(cfg.cell.tdd_pattern)
        return TimeShare(ul, share_ul), TimeShare(dl, share_dl)
    return ul, dl


def _link_rates(cfg: RadioConfig) -> tuple[RateModel, RateModel]:
    """(uplink, downlink) rate models; nr_mcs loads Sionna (and torch) only when chosen."""
    r = cfg.rate
    if r.model == "shannon":
        shannon = ShannonRate(r.gap_db, r.max_se_bps_hz, r.snr_ceiling_db)
        return shannon, shannon
    if r.model != "nr_mcs":
        raise ValueError(f"rate model {r.model!r} is not one of shannon, nr_mcs")
    from channels.nr_mcs import NrMcsRate

    ul, dl = (
        NrMcsRate.from_sionna(direction, r.mcs_table, r.bler_target, r.allocated_re)
        for direction in ("uplink", "downlink")
    )
    return ul, dl
