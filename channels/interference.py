"""Inter-cell interference of a fully loaded multi-cell network, as a cut in mean SNR.

Full load: every other cell transmits on the whole band all the time, so on
any share of the band the interference power density is the same as over the
whole band, and the full-band SINR ``S / (N + I)`` scales with a share exactly
as the SNR does (power concentration included).  A link's mean SINR is its
mean SNR minus ``10 log10(1 + I / N)``.

- Downlink: client i hears every other site j at the base-station power
  through its own loss to that site, ``I_i = sum_{j != k(i)} P_bs / L_ij``.
- Uplink: one UE per other cell transmits at full UE power from that cell's
  centre (the mean position of a client dropped uniformly over the hexagon),
  so site k hears ``I_k = sum_{j != k} P_ue / L(site j -> site k)``, the same
  for all its clients.

Losses are linear power ratios (antenna gains folded in by the caller).
Interference is taken at its mean over small-scale fading; the wanted signal
keeps its own fading.
"""

from __future__ import annotations

import numpy as np

__all__ = ["downlink_interference_w", "uplink_interference_w", "sinr_cut_db"]


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
    """[n] power each client's serving site receives from one UE at each other cell's centre [W].

    gain_between_sites : [num_sites, num_sites] linear gain from a UE at site j's
        centre to site k's base station, [k, j]; the diagonal is ignored
    site : [n] serving site of each client
    """
    g = np.array(gain_between_sites, dtype=float)
    np.fill_diagonal(g, 0.0)
    return ue_power_w * g.sum(axis=1)[np.asarray(site, dtype=np.int64)]


def sinr_cut_db(interference_w: np.ndarray, noise_w: float) -> np.ndarray:
    """10 log10(1 + I / N) [dB]: what interference takes off a mean SNR."""
    return 10.0 * np.log10(1.0 + np.asarray(interference_w, dtype=float) / noise_w)
