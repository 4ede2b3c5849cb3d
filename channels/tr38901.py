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

from typing import ClassVar

import numpy as np

from channels.config import PathLossConfig
from channels.geometry import Drop
from channels.pathloss import SPEED_OF_LIGHT_M_S, PathLossModel, register_pathloss

__all__ = [
    "TR38901_MODELS",
    "InH",
    "RMa",
    "UMa",
    "UMi",
    "tr38901_pathloss_db",
    "tr38901_los_probability",
    "tr38901_shadowing_sigma_db",
]

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


class _Tr38901(PathLossModel):
    """A TR 38.901 scenario: its path loss, LOS probability and shadowing sigma, per client.

    The formulas are class methods over plain arrays (the module's functions
    call them by name); the instance methods read the geometry from a drop and
    the options from the config.
    """

    # Outdoor validity starts at d2D = 10 m; InH's at d3D = 1 m (see basic_db).
    indoor: ClassVar[bool] = False
    # TR 38.901 Table 7.4.1-1 applicability (RMa's is narrower).
    carrier_range_ghz: ClassVar[tuple[float, float] | None] = (0.5, 100.0)

    @classmethod
    def loss_pair_db(
        cls, d2d: np.ndarray, d3d: np.ndarray, fc_ghz: float, h_bs: float, h_ut: _ArrayLike, opts: PathLossConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """([n] LOS, [n] NLOS) basic path loss [dB] at clamped distances; ``opts``: h_E, RMa h and W."""
        raise NotImplementedError

    @classmethod
    def los_probability_of(cls, d: np.ndarray, dd: np.ndarray, h_ut: _ArrayLike, inh_office: str) -> np.ndarray:
        """[n] LOS probability at ground distances ``d`` (``dd``: the same, kept away from 0)."""
        raise NotImplementedError

    @classmethod
    def sigma_of_db(cls, los: np.ndarray, d: np.ndarray, carrier_hz: float, h_bs: float, h_ut: _ArrayLike) -> np.ndarray:
        """[n] shadow-fading standard deviation [dB] in LOS state ``los`` at ground distances ``d``."""
        raise NotImplementedError

    @classmethod
    def basic_db(
        cls, distance_2d_m: _ArrayLike, los: np.ndarray | bool, carrier_hz: float, bs_height_m: float,
        ue_height_m: _ArrayLike, opts: PathLossConfig,
    ) -> np.ndarray:
        """[n] basic path loss [dB] (see :func:`tr38901_pathloss_db`)."""
        fc = carrier_hz / 1e9
        d2d_raw = np.asarray(distance_2d_m, dtype=float)
        if cls.indoor:
            # Indoor validity is 1 m <= d3D: clamp the 3D distance, not the ground one.
            d2d = d2d_raw
            d3d = np.maximum(_d3d(d2d_raw, bs_height_m, ue_height_m), 1.0)
        else:
            d2d = np.maximum(d2d_raw, 10.0)
            d3d = _d3d(d2d, bs_height_m, ue_height_m)
        pl_los, pl_nlos = cls.loss_pair_db(d2d, d3d, fc, bs_height_m, ue_height_m, opts)
        return np.where(np.asarray(los, dtype=bool), pl_los, pl_nlos)

    def _loss_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        return self.basic_db(drop.distance_2d_m, los, self.carrier_hz, drop.bs_height_m, drop.ue_height_m, self.cfg)

    def _los_probability(self, drop: Drop) -> np.ndarray:
        return tr38901_los_probability(self.name, drop.distance_2d_m, drop.ue_height_m, self.cfg.inh_office)

    def _shadowing_sigma_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        return self.sigma_of_db(los, drop.distance_2d_m, self.carrier_hz, drop.bs_height_m, drop.ue_height_m)


@register_pathloss
class UMi(_Tr38901):
    """UMi street canyon."""

    name = "umi"
    options = ("env_height_m",)
    los_correlation_m = 50.0

    @classmethod
    def loss_pair_db(
        cls, d2d: np.ndarray, d3d: np.ndarray, fc_ghz: float, h_bs: float, h_ut: _ArrayLike, opts: PathLossConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        return _umi(d2d, d3d, fc_ghz, h_bs, h_ut, opts.env_height_m)

    @classmethod
    def los_probability_of(cls, d: np.ndarray, dd: np.ndarray, h_ut: _ArrayLike, inh_office: str) -> np.ndarray:
        return np.where(d <= 18.0, 1.0, 18.0 / dd + np.exp(-dd / 36.0) * (1.0 - 18.0 / dd))

    @classmethod
    def sigma_of_db(
        cls, los: np.ndarray, d: np.ndarray, carrier_hz: float, h_bs: float, h_ut: _ArrayLike
    ) -> np.ndarray:
        return np.where(los, 4.0, 7.82)


@register_pathloss
class UMa(_Tr38901):
    """UMa."""

    name = "uma"
    options = ("env_height_m",)
    los_correlation_m = 50.0

    @classmethod
    def loss_pair_db(
        cls, d2d: np.ndarray, d3d: np.ndarray, fc_ghz: float, h_bs: float, h_ut: _ArrayLike, opts: PathLossConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        return _uma(d2d, d3d, fc_ghz, h_bs, h_ut, opts.env_height_m)

    @classmethod
    def los_probability_of(cls, d: np.ndarray, dd: np.ndarray, h_ut: _ArrayLike, inh_office: str) -> np.ndarray:
        h = np.asarray(h_ut, dtype=float)
        c = np.where(h <= 13.0, 0.0, (np.clip(h, 13.0, 23.0) - 13.0) / 10.0) ** 1.5
        base = 18.0 / dd + np.exp(-dd / 63.0) * (1.0 - 18.0 / dd)
        return np.where(d <= 18.0, 1.0, base * (1.0 + c * 1.25 * (dd / 100.0) ** 3 * np.exp(-dd / 150.0)))

    @classmethod
    def sigma_of_db(
        cls, los: np.ndarray, d: np.ndarray, carrier_hz: float, h_bs: float, h_ut: _ArrayLike
    ) -> np.ndarray:
        return np.where(los, 4.0, 6.0)


@register_pathloss
class RMa(_Tr38901):
    """RMa; LOS shadowing is 4 dB up to the breakpoint distance and 6 dB beyond it."""

    name = "rma"
    options = ("building_height_m", "street_width_m")
    los_correlation_m = 60.0
    carrier_range_ghz = (0.5, 30.0)

    @classmethod
    def loss_pair_db(
        cls, d2d: np.ndarray, d3d: np.ndarray, fc_ghz: float, h_bs: float, h_ut: _ArrayLike, opts: PathLossConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        return _rma(d2d, d3d, fc_ghz, h_bs, h_ut, opts.building_height_m, opts.street_width_m)

    @classmethod
    def los_probability_of(cls, d: np.ndarray, dd: np.ndarray, h_ut: _ArrayLike, inh_office: str) -> np.ndarray:
        return np.where(d <= 10.0, 1.0, np.exp(-(dd - 10.0) / 1000.0))

    @classmethod
    def sigma_of_db(
        cls, los: np.ndarray, d: np.ndarray, carrier_hz: float, h_bs: float, h_ut: _ArrayLike
    ) -> np.ndarray:
        d_bp = 2.0 * np.pi * h_bs * np.asarray(h_ut, dtype=float) * carrier_hz / SPEED_OF_LIGHT_M_S
        return np.where(los, np.where(d <= d_bp, 4.0, 6.0), 8.0)


@register_pathloss
class InH(_Tr38901):
    """InH office (mixed or open office LOS probability)."""

    name = "inh"
    options = ("inh_office",)
    los_correlation_m = 10.0
    indoor = True

    @classmethod
    def loss_pair_db(
        cls, d2d: np.ndarray, d3d: np.ndarray, fc_ghz: float, h_bs: float, h_ut: _ArrayLike, opts: PathLossConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        return _inh(d3d, fc_ghz)

    @classmethod
    def los_probability_of(cls, d: np.ndarray, dd: np.ndarray, h_ut: _ArrayLike, inh_office: str) -> np.ndarray:
        if inh_office == "mixed":
            return np.where(
                d <= 1.2, 1.0, np.where(d < 6.5, np.exp(-(dd - 1.2) / 4.7), np.exp(-(dd - 6.5) / 32.6) * 0.32)
            )
        if inh_office == "open":
            return np.where(
                d <= 5.0, 1.0, np.where(d <= 49.0, np.exp(-(dd - 5.0) / 70.8), np.exp(-(dd - 49.0) / 211.7) * 0.54)
            )
        raise ValueError(f"inh_office {inh_office!r} is not one of mixed, open")

    @classmethod
    def sigma_of_db(
        cls, los: np.ndarray, d: np.ndarray, carrier_hz: float, h_bs: float, h_ut: _ArrayLike
    ) -> np.ndarray:
        return np.where(los, 3.0, 8.03)


_MODELS: dict[str, type[_Tr38901]] = {cls.name: cls for cls in (UMi, UMa, RMa, InH)}
TR38901_MODELS = tuple(_MODELS)


def _model(model: str) -> type[_Tr38901]:
    cls = _MODELS.get(model)
    if cls is None:
        raise ValueError(f"TR 38.901 model {model!r} is not one of {', '.join(TR38901_MODELS)}")
    return cls


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
    opts = PathLossConfig(
        model=model, env_height_m=env_height_m, building_height_m=building_height_m, street_width_m=street_width_m
    )
    return _model(model).basic_db(distance_2d_m, los, carrier_hz, bs_height_m, ue_height_m, opts)


def tr38901_los_probability(
    model: str, distance_2d_m: _ArrayLike, ue_height_m: _ArrayLike = 1.5, inh_office: str = "mixed"
) -> np.ndarray:
    """LOS probability of TR 38.901 Table 7.4.2-1 for outdoor users.

    distance_2d_m : [n] ground distance [m]
    ue_height_m : UT height [m]; only UMa depends on it (above 13 m)
    inh_office : "mixed" or "open" (InH office layout)
    """
    cls = _model(model)
    d = np.asarray(distance_2d_m, dtype=float)
    dd = np.maximum(d, 1e-9)  # keeps the unused branch of np.where finite at d = 0
    return np.asarray(cls.los_probability_of(d, dd, ue_height_m, inh_office), dtype=float)


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
    cls = _model(model)
    return np.asarray(cls.sigma_of_db(
        np.asarray(los, dtype=bool), np.asarray(distance_2d_m, dtype=float), carrier_hz, bs_height_m, ue_height_m
    ))
