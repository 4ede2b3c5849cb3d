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

__all__ = ["downlink_interference_w", "uplink_interference_w", "sinr_cut_db", "concentrated_share_sinr"]


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
