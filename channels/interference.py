"""Inter-cell interference of a fully loaded multi-cell network, as a cut in mean SNR.

Full load: every other cell transmits on the whole band all the time, so on
any share of the band the interference power density is the same as over the
whole band, and the full-band SINR ``S / (N + I)`` scales with a share exactly
as the SNR does (power concentration included).  A link's mean SINR is its
mean SNR minus ``10 log10(1 + I / N)``.

- Downlink: client i hears every other site j at the base-station power
  through its own loss to that site, ``I_i = sum_{j != k(i)} P_bs / L_ij``.
- Uplink: on every share of the band, one UE per other cell transmits at
  full UE power, concentrated in that share as the wanted client's is (the
  interferer's power on a share is ``P g``, not ``P g / N``), from a position
  uniform over its hexagon: site k hears, on any share,
  ``I_k = sum_{j != k} P_ue E_x[1 / L(x in cell j -> site k)]``, the same for
  all its clients (the mean over the interferer's position, not the loss from
  the cell centre: 1/L is convex in distance, so the centre understates it).
  Since the wanted client concentrates its power as well, the uplink SINR on a
  share B/n is ``n S / (N + n I)`` with S, N, I over the full band: the
  medium takes ``I / N`` beside the full-band
  SINR ``S / (N + I)`` (the n = 1 case) and scales it per share
  (:func:`concentrated_share_sinr`).

Losses are linear power ratios (antenna gains folded in by the caller).
Interference is taken at its mean over small-scale fading; the wanted signal
keeps its own fading.
"""

from __future__ import annotations

import numpy as np

from channels.config import CellConfig, PlacementConfig
from channels.geometry import Drop
from channels.hexgrid import hex_cell_points, hex_sites
from channels.link import dbm_to_w, thermal_noise_dbm
from channels.pathloss import PathLossModel

__all__ = [
    "downlink_interference_w", "uplink_interference_w", "sinr_cut_db", "concentrated_share_sinr", "full_load_cut_db",
]


def downlink_interference_w(gain_to_sites: np.ndarray, site: np.ndarray, bs_power_w: float) -> np.ndarray:
    """[n] power each client receives from the other sites' base stations [W].

    gain_to_sites : [n, num_sites] linear gain (1 / loss) from each site to each client
    site : [n] serving site of each client
    """
    g = np.array(gain_to_sites, dtype=float)
    # Zeroed, not subtracted from the sum: the serving gain can exceed the rest by orders of magnitude.
    g[np.arange(g.shape[0]), np.asarray(site, dtype=np.int64)] = 0.0
    return bs_power_w * g.sum(axis=1)


def uplink_interference_w(gain_between_sites: np.ndarray, site: np.ndarray, ue_power_w: float) -> np.ndarray:
    """[n] power each client's serving site receives on its share from one UE in each other cell [W].

    gain_between_sites : [num_sites, num_sites] linear gain from a UE in cell j
        (averaged over its position) to site k's base station, [k, j]; the diagonal is ignored
    site : [n] serving site of each client
    """
    g = np.array(gain_between_sites, dtype=float)
    np.fill_diagonal(g, 0.0)
    return ue_power_w * g.sum(axis=1)[np.asarray(site, dtype=np.int64)]


def sinr_cut_db(interference_w: np.ndarray, noise_w: float) -> np.ndarray:
    """10 log10(1 + I / N) [dB]: what interference takes off a mean SNR."""
    return 10.0 * np.log10(1.0 + np.asarray(interference_w, dtype=float) / noise_w)


def concentrated_share_sinr(sinr_full: np.ndarray, inr: np.ndarray | float, share: np.ndarray | float) -> np.ndarray:
    """SINR on a share B / c of the band when the client and each interferer concentrate their power in it.

    sinr_full : full-band SINR S / (N + I) (linear)
    inr : full-band interference-to-noise ratio I / N (linear; 0 = no interference)
    share : c = B / b, the band over the share's width (n for an equal split in n)
    returns : c S / (N + c I) = c sinr_full (1 + inr) / (1 + c inr)
    """
    c = np.asarray(share, dtype=float)
    inr = np.asarray(inr, dtype=float)
    return np.asarray(sinr_full, dtype=float) * c * (1.0 + inr) / (1.0 + c * inr)


def full_load_cut_db(
    model: PathLossModel, drop: Drop, cell: CellConfig, placement: PlacementConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uplink, downlink) [num_clients] SNR lost to the other cells of a hex grid at full load [dB], and the uplink I / N.

    Gains average the LOS state with the model's LOS probability
    (:meth:`~channels.pathloss.PathLossModel.mean_gain`), antennas included;
    shadowing is the serving link's only.  Uplink interferers sit anywhere in
    their cells: the gain from cell j to site k is averaged over positions
    uniform in cell j's hexagon (:func:`channels.hexgrid.hex_cell_points`),
    not taken from its centre.
    """
    if drop.site is None:
        raise ValueError("full-load interference needs a multi-cell (hex_grid) drop")
    antennas = 10.0 ** (cell.antenna_gains_db / 10.0)

    def gain(ue_xy_m: np.ndarray, bs_xy_m: np.ndarray) -> np.ndarray:
        return model.mean_gain(Drop(ue_xy_m, cell.ue_height_m, cell.bs_height_m, bs_xy_m=bs_xy_m)) * antennas

    sites = hex_sites(placement.num_rings, placement.isd_m)
    n, num_sites = drop.xy_m.shape[0], sites.shape[0]
    to_sites = gain(np.repeat(drop.xy_m, num_sites, axis=0), np.tile(sites, (n, 1)))
    i_dl = downlink_interference_w(to_sites.reshape(n, num_sites), drop.site, float(dbm_to_w(cell.bs_tx_power_dbm)))
    # [k, j]: a UE in cell j (mean over its position) heard by site k's base station (diagonal unused).
    k, j = np.nonzero(~np.eye(num_sites, dtype=bool))
    # About two million gain evaluations at most, whatever the number of cells.
    offsets = hex_cell_points(placement.isd_m, placement.min_distance_m, int(min(1600, max(64, 2_000_000 // k.shape[0]))))
    m = offsets.shape[0]
    ue = np.repeat(sites[j], m, axis=0) + np.tile(offsets, (k.shape[0], 1))
    between = np.zeros((num_sites, num_sites))
    between[k, j] = gain(ue, np.repeat(sites[k], m, axis=0)).reshape(k.shape[0], m).mean(axis=1)
    i_ul = uplink_interference_w(between, drop.site, float(dbm_to_w(cell.ue_tx_power_dbm)))
    bw_ul, bw_dl = cell.bandwidths_hz
    noise_ul, noise_dl = (float(dbm_to_w(thermal_noise_dbm(bw, cell.noise_figure_db))) for bw in (bw_ul, bw_dl))
    return sinr_cut_db(i_ul, noise_ul), sinr_cut_db(i_dl, noise_dl), i_ul / noise_ul
