"""Uplink open-loop power control (3GPP TS 38.213 clause 7.1.1, PUSCH).

P = min(P_CMAX, P_O + 10 log10(2^mu M_RB) + alpha PL)  [dBm]

with M_RB the resource blocks of the grant at subcarrier spacing 15 * 2^mu
kHz, so 2^mu M_RB is the grant's bandwidth in units of 180 kHz (one 15 kHz
resource block): the formula sets a power spectral density of P_O + alpha PL
dBm per 180 kHz, capped at P_CMAX over the whole grant.  PL is the downlink
path loss the UE estimates (reference-signal power minus filtered RSRP), so
it includes shadowing and antenna gains but not fast fading.  The closed-loop
term f and Delta_TF are zero (open loop).  A fluid share of the band gives a
fractional M_RB; the formula is applied to it as it is.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RB_15KHZ_HZ", "pusch_power_dbm", "link_to_power"]

# One resource block at 15 kHz: 12 subcarriers.
RB_15KHZ_HZ = 12 * 15e3


def pusch_power_dbm(
    p_max_dbm: float, p0_dbm: float, alpha: float, pathloss_db: np.ndarray, grant_hz: np.ndarray | float
) -> np.ndarray:
    """[num_clients] PUSCH transmit power [dBm] on a grant of ``grant_hz``.

    pathloss_db : [num_clients] the UE's estimate of its coupling loss [dB]
    grant_hz : bandwidth of the grant, per client or one for all [Hz] (= 2^mu M_RB x 180 kHz)
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    rb = np.asarray(grant_hz, dtype=float) / RB_15KHZ_HZ
    return np.minimum(p_max_dbm, p0_dbm + 10.0 * np.log10(rb) + alpha * np.asarray(pathloss_db, dtype=float))


def link_to_power(snr_linear: np.ndarray, power_dbm: np.ndarray, p_max_dbm: float) -> np.ndarray:
    """Full-band SNRs computed at ``p_max_dbm``, now at each client's own ``power_dbm``."""
    return np.asarray(snr_linear, dtype=float) * 10.0 ** ((np.asarray(power_dbm, dtype=float) - p_max_dbm) / 10.0)
