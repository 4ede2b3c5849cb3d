"""3GPP TR 38.901 large-scale models: path loss, LOS probability, shadowing sigma.

Closed forms of TR 38.901 V17.0.0 Table 7.4.1-1 (path loss and shadow-fading
standard deviation) and Table 7.4.2-1 (LOS probability) for UMi street canyon,
UMa, RMa and InH office, vectorised over clients.  Carrier frequency ``fc`` is
in GHz inside the formulas (as in the TR); breakpoint distances use Hz.

Choices where the TR leaves room, each configurable by the caller:

- UMa/UMi effective environment height ``h_E``: the TR draws it at random for
  UMa UTs at 13 m and above; here it is a fixed parameter (default 1 m, which
  is exact for every UT below 13 m and for UMi).
- RMa average building height ``h`` = 5 m and street width ``W`` = 20 m, the
  TR's defaults (applicability 5-50 m each).
- InH LOS probability: mixed office (default) or open office.
- NLOS: the TR's main model PL = max(PL_LOS, PL'_NLOS); the TR's "optional"
  single-slope NLOS formulas are not provided.
- Distances below the TR's validity range (d2D < 10 m outdoors, d3D < 1 m
  indoors) are clamped to its lower end, so no model predicts gain close in;
  above the range the formulas are extrapolated.

Shadowing sigmas follow TR 38.901 Table 7.4.1-1.  They differ from TR 36.873
(3D-UMi: 3 dB LOS, 4 dB NLOS) below 6 GHz; fedwave uses 38.901 throughout and
lets ``channel.shadowing_sigma_db`` override them.
"""

from __future__ import annotations

import numpy as np

from channels.pathloss import SPEED_OF_LIGHT_M_S

__all__ = [
    "TR38901_MODELS",
    "tr38901_pathloss_db",
    "tr38901_los_probability",
    "tr38901_shadowing_sigma_db",
]

TR38901_MODELS = ("umi", "uma", "rma", "inh")

_ArrayLike = np.ndarray | float


def _d3d(d2d: np.ndarray, bs_height_m: float, ue_height_m: _ArrayLike) -> np.ndarray:
    return np.hypot(d2d, bs_height_m - np.asarray(ue_height_m, dtype=float))


def _two_slope(
    d2d: np.ndarray,
    d3d: np.ndarray,
    fc_ghz: float,
    bs_height_m: float,
    ue_height_m: _ArrayLike,
    env_height_m: float,
    a_db: float,
    slope1: float,
    bp_coef: float,
) -> np.ndarray:
    """UMi/UMa LOS: slope1 up to the breakpoint d'_BP, then 40 log10 d3D."""
    h_ue = np.asarray(ue_height_m, dtype=float)
    d_bp = 4.0 * (bs_height_m - env_height_m) * (h_ue - env_height_m) * fc_ghz * 1e9 / SPEED_OF_LIGHT_M_S
    pl1 = a_db + slope1 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
    pl2 = (
        a_db
        + 40.0 * np.log10(d3d)
        + 20.0 * np.log10(fc_ghz)
        - bp_coef * np.log10(d_bp**2 + (bs_height_m - h_ue) ** 2)
    )
    return np.where(d2d <= d_bp, pl1, pl2)


def _umi(d2d: np.ndarray, d3d: np.ndarray, fc: float, h_bs: float, h_ut: _ArrayLike, h_e: float) -> tuple[np.ndarray, np.ndarray]:
    los = _two_slope(d2d, d3d, fc, h_bs, h_ut, h_e, 32.4, 21.0, 9.5)
    nlos = 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc) - 0.3 * (np.asarray(h_ut) - 1.5)
    return los, np.maximum(los, nlos)


def _uma(d2d: np.ndarray, d3d: np.ndarray, fc: float, h_bs: float, h_ut: _ArrayLike, h_e: float) -> tuple[np.ndarray, np.ndarray]:
    los = _two_slope(d2d, d3d, fc, h_bs, h_ut, h_e, 28.0, 22.0, 9.0)
    nlos = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc) - 0.6 * (np.asarray(h_ut) - 1.5)
    return los, np.maximum(los, nlos)


def _rma_los1(d3d: np.ndarray, fc: float, h: float) -> np.ndarray:
    return (
        20.0 * np.log10(40.0 * np.pi * d3d * fc / 3.0)
        + min(0.03 * h**1.72, 10.0) * np.log10(d3d)
        - min(0.044 * h**1.72, 14.77)
        + 0.002 * np.log10(h) * d3d
    )


def _rma(
    d2d: np.ndarray, d3d: np.ndarray, fc: float, h_bs: float, h_ut: _ArrayLike, h: float, w: float
) -> tuple[np.ndarray, np.ndarray]:
    h_ue = np.asarray(h_ut, dtype=float)
    # RMa's breakpoint uses the actual antenna heights (no effective height).
    d_bp = 2.0 * np.pi * h_bs * h_ue * fc * 1e9 / SPEED_OF_LIGHT_M_S
    # Beyond it, the TR's PL2 = PL1(d_BP) + 40 log10(d_3D / d_BP): the 2D breakpoint distance in both
    # places, as Table 7.4.1-1 writes it (and ns-3 computes it).
    los = np.where(d2d <= d_bp, _rma_los1(d3d, fc, h), _rma_los1(d_bp, fc, h) + 40.0 * np.log10(d3d / d_bp))
    nlos = (
        161.04
        - 7.1 * np.log10(w)
        + 7.5 * np.log10(h)
        - (24.37 - 3.7 * (h / h_bs) ** 2) * np.log10(h_bs)
        + (43.42 - 3.1 * np.log10(h_bs)) * (np.log10(d3d) - 3.0)
        + 20.0 * np.log10(fc)
        - (3.2 * np.log10(11.75 * h_ue) ** 2 - 4.97)
    )
    return los, np.maximum(los, nlos)


def _inh(d3d: np.ndarray, fc: float) -> tuple[np.ndarray, np.ndarray]:
    los = 32.4 + 17.3 * np.log10(d3d) + 20.0 * np.log10(fc)
    nlos = 38.3 * np.log10(d3d) + 17.30 + 24.9 * np.log10(fc)
    return los, np.maximum(los, nlos)


def tr38901_pathloss_db(
    model: str,
    distance_2d_m: _ArrayLike,
    los: np.ndarray | bool,
    carrier_hz: float,
    bs_height_m: float,
    ue_height_m: _ArrayLike,
    env_height_m: float = 1.0,
    building_height_m: float = 5.0,
    street_width_m: float = 20.0,
) -> np.ndarray:
    """Basic path loss of TR 38.901 Table 7.4.1-1 [dB], no shadowing.

    model : umi, uma, rma or inh
    distance_2d_m : [n] ground distance [m]
    los : [n] True where the link is line of sight
    carrier_hz : carrier frequency [Hz]
    bs_height_m, ue_height_m : antenna heights [m] (ue_height_m scalar or [n])
    env_height_m : effective environment height h_E of UMi/UMa [m]
    building_height_m, street_width_m : RMa h and W [m]
    returns : [n] path loss [dB]
    """
    fc = carrier_hz / 1e9
    d2d_raw = np.asarray(distance_2d_m, dtype=float)
    if model == "inh":
        # Indoor validity is 1 m <= d3D: clamp the 3D distance, not the ground one.
        d3d = np.maximum(_d3d(d2d_raw, bs_height_m, ue_height_m), 1.0)
        pl_los, pl_nlos = _inh(d3d, fc)
    else:
        d2d = np.maximum(d2d_raw, 10.0)
        d3d = _d3d(d2d, bs_height_m, ue_height_m)
        if model == "umi":
            pl_los, pl_nlos = _umi(d2d, d3d, fc, bs_height_m, ue_height_m, env_height_m)
        elif model == "uma":
            pl_los, pl_nlos = _uma(d2d, d3d, fc, bs_height_m, ue_height_m, env_height_m)
        elif model == "rma":
            pl_los, pl_nlos = _rma(d2d, d3d, fc, bs_height_m, ue_height_m, building_height_m, street_width_m)
        else:
            raise ValueError(f"TR 38.901 model {model!r} is not one of {', '.join(TR38901_MODELS)}")
    return np.where(np.asarray(los, dtype=bool), pl_los, pl_nlos)


def tr38901_los_probability(
    model: str, distance_2d_m: _ArrayLike, ue_height_m: _ArrayLike = 1.5, inh_office: str = "mixed"
) -> np.ndarray:
    """LOS probability of TR 38.901 Table 7.4.2-1 for outdoor users.

    distance_2d_m : [n] ground distance [m]
    ue_height_m : UT height [m]; only UMa depends on it (above 13 m)
    inh_office : "mixed" or "open" (InH office layout)
    """
    d = np.asarray(distance_2d_m, dtype=float)
    dd = np.maximum(d, 1e-9)  # keeps the unused branch of np.where finite at d = 0
    if model == "umi":
        p = np.where(d <= 18.0, 1.0, 18.0 / dd + np.exp(-dd / 36.0) * (1.0 - 18.0 / dd))
    elif model == "uma":
        h = np.asarray(ue_height_m, dtype=float)
        c = np.where(h <= 13.0, 0.0, (np.clip(h, 13.0, 23.0) - 13.0) / 10.0) ** 1.5
        base = 18.0 / dd + np.exp(-dd / 63.0) * (1.0 - 18.0 / dd)
        p = np.where(d <= 18.0, 1.0, base * (1.0 + c * 1.25 * (dd / 100.0) ** 3 * np.exp(-dd / 150.0)))
    elif model == "rma":
        p = np.where(d <= 10.0, 1.0, np.exp(-(dd - 10.0) / 1000.0))
    elif model == "inh":
        if inh_office == "mixed":
            p = np.where(
                d <= 1.2, 1.0, np.where(d < 6.5, np.exp(-(dd - 1.2) / 4.7), np.exp(-(dd - 6.5) / 32.6) * 0.32)
            )
        elif inh_office == "open":
            p = np.where(
                d <= 5.0, 1.0, np.where(d <= 49.0, np.exp(-(dd - 5.0) / 70.8), np.exp(-(dd - 49.0) / 211.7) * 0.54)
            )
        else:
            raise ValueError(f"inh_office {inh_office!r} is not one of mixed, open")
    else:
        raise ValueError(f"TR 38.901 model {model!r} is not one of {', '.join(TR38901_MODELS)}")
    return np.asarray(p, dtype=float)


def tr38901_shadowing_sigma_db(
    model: str,
    los: np.ndarray | bool,
    distance_2d_m: _ArrayLike,
    carrier_hz: float,
    bs_height_m: float,
    ue_height_m: _ArrayLike,
) -> np.ndarray:
    """Shadow-fading standard deviation of TR 38.901 Table 7.4.1-1 [dB], per client.

    RMa LOS is 4 dB up to the breakpoint distance and 6 dB beyond it.
    """
    los_b = np.asarray(los, dtype=bool)
    d = np.asarray(distance_2d_m, dtype=float)
    if model == "umi":
        return np.where(los_b, 4.0, 7.82)
    if model == "uma":
        return np.where(los_b, 4.0, 6.0)
    if model == "inh":
        return np.where(los_b, 3.0, 8.03)
    if model == "rma":
        d_bp = 2.0 * np.pi * bs_height_m * np.asarray(ue_height_m, dtype=float) * carrier_hz / SPEED_OF_LIGHT_M_S
        return np.where(los_b, np.where(d <= d_bp, 4.0, 6.0), 8.0)
    raise ValueError(f"TR 38.901 model {model!r} is not one of {', '.join(TR38901_MODELS)}")
