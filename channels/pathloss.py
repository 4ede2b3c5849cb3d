"""Large-scale path loss: the closed forms, and the registered path-loss models.

A path-loss model (:class:`PathLossModel`) keeps *generating* a large-scale
state apart from *applying* it, as Sionna does: :meth:`PathLossModel.generate`
draws each client's LOS state and shadowing normals (and
:meth:`PathLossModel.follow` carries them along moving clients' paths), and
:meth:`PathLossModel.apply` turns a geometry and a LOS state into decibels.
Subclasses override only the private ``_loss_db``, ``_los_probability`` and
``_shadowing_sigma_db``.  Each registers under its name
(:func:`register_pathloss`); :data:`PATHLOSS_MODELS` is the only list of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np

from channels.config import PathLossConfig, ShadowingConfig, Streams
from channels.geometry import Drop
from channels.shadowing import correlated_normals, evolve_normals

__all__ = [
    "DEFAULT_SHADOWING_SIGMA_DB",
    "PATHLOSS_MODELS",
    "SPEED_OF_LIGHT_M_S",
    "FreeSpace",
    "LargeScale",
    "LogDistance",
    "PathLossModel",
    "free_space_db",
    "log_distance_db",
    "pathloss_model",
    "register_pathloss",
]

SPEED_OF_LIGHT_M_S = 299_792_458.0

# fedwave's long-standing log-normal sigma for the non-3GPP models (a common
# urban macro figure; TR 38.901 gives per-scenario values for its own models).
DEFAULT_SHADOWING_SIGMA_DB = 8.0


def free_space_db(distance_m: np.ndarray | float, carrier_hz: float) -> np.ndarray:
    """Friis free-space loss 20 log10(4 pi d f / c) [dB]; d [m], f [Hz]."""
    d = np.asarray(distance_m, dtype=float)
    return 20.0 * np.log10(4.0 * np.pi * d * carrier_hz / SPEED_OF_LIGHT_M_S)


def log_distance_db(
    distance_m: np.ndarray | float,
    carrier_hz: float,
    exponent: np.ndarray | float,
    reference_m: float = 1.0,
    reference_loss_db: float | None = None,
) -> np.ndarray:
    """PL(d) = PL(d0) + 10 n log10(d / d0) [dB], with PL(d0) free-space unless given.

    Distances below d0 are clamped to d0 so the model never predicts gain.
    """
    d = np.maximum(np.asarray(distance_m, dtype=float), reference_m)
    pl0 = free_space_db(reference_m, carrier_hz) if reference_loss_db is None else reference_loss_db
    return pl0 + 10.0 * np.asarray(exponent) * np.log10(d / reference_m)


@dataclass
class LargeScale:
    """A drawn large-scale state; arrays are [num_clients].

    los : True where the link is line of sight
    los_normals : the standard normals behind a drawn LOS state (LOS where their
        CDF is below the LOS probability); None when the state is forced
    shadowing_sigma_db, shadowing_normals : None without shadowing
    """

    los: np.ndarray
    los_normals: np.ndarray | None = None
    shadowing_sigma_db: np.ndarray | None = None
    shadowing_normals: np.ndarray | None = None
    # The uniforms a drawn LOS state came from; their normals are only needed by a client that moves.
    los_uniforms: np.ndarray | None = None

    @property
    def draws_los(self) -> bool:
        """Whether the LOS state was drawn (and so can follow a moving client's path)."""
        return self.los_normals is not None or self.los_uniforms is not None

    def los_path_normals(self) -> np.ndarray | None:
        """[num_clients] the standard normals behind a drawn LOS state; None when it was forced.

        Computed on first use: scipy.special's import is a quarter of a
        network-only run's start-up, and static clients never need them.
        """
        if self.los_normals is None and self.los_uniforms is not None:
            from scipy.special import ndtri

            self.los_normals = ndtri(np.clip(self.los_uniforms, 1e-300, 1.0 - 1e-16))
        return self.los_normals

    @property
    def shadowing_db(self) -> np.ndarray:
        """[num_clients] shadowing [dB] (zeros without shadowing)."""
        if self.shadowing_sigma_db is None or self.shadowing_normals is None:
            return np.zeros(self.los.shape[0])
        return self.shadowing_sigma_db * self.shadowing_normals


class PathLossModel:
    """A path-loss model for one carrier, configured by a :class:`~channels.config.PathLossConfig`.

    los_correlation_m : correlation distance of the LOS state along a path [m]
        (TR 38.901 Table 7.6.3.1-2)
    always_los : the model has no NLOS state (free space)
    carrier_range_ghz : the carriers the model is valid for [GHz]; None = any
    options : the :class:`~channels.config.PathLossConfig` fields the model reads
        beyond ``model`` and ``los``; a scenario that sets another model's option
        is refused (``sim.config`` reads this list)
    """

    name: ClassVar[str] = ""
    options: ClassVar[tuple[str, ...]] = ()
    los_correlation_m: ClassVar[float] = 50.0
    always_los: ClassVar[bool] = False
    carrier_range_ghz: ClassVar[tuple[float, float] | None] = None

    def __init__(self, cfg: PathLossConfig, carrier_hz: float) -> None:
        if cfg.los not in ("auto", "los", "nlos"):
            raise ValueError(f"pathloss los {cfg.los!r} is not one of auto, los, nlos")
        if not carrier_hz > 0:
            raise ValueError(f"carrier_hz must be > 0, got {carrier_hz}")
        self.cfg, self.carrier_hz = cfg, carrier_hz

    @property
    def draws_los(self) -> bool:
        """Whether each client's LOS state is drawn (los: auto), not forced."""
        return self.cfg.los == "auto" and not self.always_los

    def los_probability(self, drop: Drop) -> np.ndarray:
        """[num_clients] probability of LOS at each client's position (1 or 0 when forced)."""
        n = drop.xy_m.shape[0]
        if self.always_los or self.cfg.los == "los":
            return np.ones(n)
        if self.cfg.los == "nlos":
            return np.zeros(n)
        return self._los_probability(drop)

    def apply(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        """[num_clients] basic path loss [dB] (no shadowing) of each client in LOS state ``los``."""
        return self._loss_db(drop, np.asarray(los, dtype=bool))

    def shadowing_sigma_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        """[num_clients] the model's shadow-fading standard deviation [dB]."""
        return self._shadowing_sigma_db(drop, np.asarray(los, dtype=bool))

    def mean_gain(self, drop: Drop) -> np.ndarray:
        """[num_clients] linear gain 1 / L averaged over the LOS state with the LOS probability.

        For mean powers (interference): drawing a LOS state per interfering
        link would add random streams for little.  No shadowing.
        """
        n = drop.xy_m.shape[0]
        p_los = self.los_probability(drop)
        gain = np.zeros(n)
        for state, weight in ((True, p_los), (False, 1.0 - p_los)):
            if np.any(weight > 0):
                gain += weight * 10.0 ** (-self.apply(drop, np.full(n, state)) / 10.0)
        return gain

    def generate(self, drop: Drop, streams: Streams, shadowing: ShadowingConfig) -> LargeScale:
        """Draw the clients' LOS states (stream ``los``) and shadowing normals (stream ``shadowing``)."""
        n = drop.xy_m.shape[0]
        state = LargeScale(np.full(n, self.cfg.los != "nlos" or self.always_los))
        if self.draws_los:
            u = np.array([g.random() for g in streams.clients("los", n)])
            state.los = u < self._los_probability(drop)
            state.los_uniforms = u  # as normals (los_path_normals) when a client moves
        if shadowing.enabled:
            state.shadowing_sigma_db = self._sigma_db(drop, state.los, shadowing)
            z = np.array([g.standard_normal() for g in streams.clients("shadowing", n)])
            if shadowing.correlation_m is not None:
                z = correlated_normals(drop.xy_m, shadowing.correlation_m, z)
            state.shadowing_normals = z
        return state

    def follow(
        self,
        state: LargeScale,
        drop: Drop,
        moved_m: np.ndarray,
        shadowing: ShadowingConfig,
        los_innovations: np.ndarray | None,
        shadowing_innovations: np.ndarray | None,
    ) -> LargeScale:
        """The state after each client moved ``moved_m`` [m] to its place in ``drop``.

        A drawn LOS state follows each path: its normal is AR(1) in
        displacement with :attr:`los_correlation_m` and gives LOS where its
        CDF is below the LOS probability at the new position; the model's
        shadowing sigma follows the new LOS state.  Shadowing normals follow
        the path when they have a correlation distance, and stay put
        otherwise.  Innovations: [num_clients] standard normals, or None to
        keep that part as it is.
        """
        out = LargeScale(state.los, state.los_path_normals(), state.shadowing_sigma_db, state.shadowing_normals)
        if out.los_normals is not None and los_innovations is not None:
            out.los_normals = evolve_normals(out.los_normals, moved_m, self.los_correlation_m, los_innovations)
            from scipy.special import ndtr

            out.los = ndtr(out.los_normals) < self._los_probability(drop)
            if out.shadowing_sigma_db is not None:
                out.shadowing_sigma_db = self._sigma_db(drop, out.los, shadowing)
        corr_m = shadowing.correlation_m
        if corr_m is not None and out.shadowing_normals is not None and shadowing_innovations is not None:
            out.shadowing_normals = evolve_normals(out.shadowing_normals, moved_m, corr_m, shadowing_innovations)
        return out

    def _sigma_db(self, drop: Drop, los: np.ndarray, shadowing: ShadowingConfig) -> np.ndarray:
        if shadowing.sigma_db is not None:
            return np.full(los.shape[0], shadowing.sigma_db)
        return self.shadowing_sigma_db(drop, los)

    # ------------------------------------------------------------ what a model overrides

    def _loss_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _los_probability(self, drop: Drop) -> np.ndarray:
        raise NotImplementedError

    def _shadowing_sigma_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        return np.full(los.shape[0], DEFAULT_SHADOWING_SIGMA_DB)


PATHLOSS_MODELS: dict[str, type[PathLossModel]] = {}

_M = TypeVar("_M", bound=type[PathLossModel])


def register_pathloss(cls: _M) -> _M:
    """Register a path-loss model class under its ``name``; a second class of one name is an error."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in PATHLOSS_MODELS:
        raise ValueError(f"path-loss model {cls.name!r} is already registered ({PATHLOSS_MODELS[cls.name].__name__})")
    PATHLOSS_MODELS[cls.name] = cls
    return cls


def pathloss_model(cfg: PathLossConfig, carrier_hz: float) -> PathLossModel:
    """The registered model ``cfg.model``, configured."""
    cls = PATHLOSS_MODELS.get(cfg.model)
    if cls is None:
        raise ValueError(f"path-loss model {cfg.model!r} is not one of {', '.join(PATHLOSS_MODELS)}")
    return cls(cfg, carrier_hz)


@register_pathloss
class FreeSpace(PathLossModel):
    """Friis free-space loss over the 3D distance; always line of sight."""

    name = "free_space"
    always_los = True

    def _loss_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        return free_space_db(drop.distance_3d_m, self.carrier_hz)

    def _los_probability(self, drop: Drop) -> np.ndarray:
        return np.ones(drop.xy_m.shape[0])


@register_pathloss
class LogDistance(PathLossModel):
    """Log-distance loss over the 3D distance, its exponent per LOS state.

    It has no LOS probability of its own: it borrows TR 38.901 UMi's (and its
    LOS correlation distance).
    """

    name = "log_distance"
    options = ("exponent_los", "exponent_nlos", "reference_m", "reference_loss_db")

    def _loss_db(self, drop: Drop, los: np.ndarray) -> np.ndarray:
        c = self.cfg
        exponent = np.where(los, c.exponent_los, c.exponent_nlos)
        return log_distance_db(drop.distance_3d_m, self.carrier_hz, exponent, c.reference_m, c.reference_loss_db)

    def _los_probability(self, drop: Drop) -> np.ndarray:
        from channels.tr38901 import tr38901_los_probability

        return tr38901_los_probability("umi", drop.distance_2d_m, drop.ue_height_m, self.cfg.inh_office)
