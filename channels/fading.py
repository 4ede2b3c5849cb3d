"""Small-scale fading of the channel power gain (mean 1).

Every model is driven by two standard normals per client per draw (the real
and imaginary parts of a CN(0, 1) scattered component), so models and
algorithms that share a seed see the same underlying randomness.  Drawing the
normals is the caller's job (one generator per client); this module only
applies them.

Time correlation follows Jakes/Clarke: the scattered component is AR(1),
g_t = rho g_{t-dt} + sqrt(1 - rho^2) w_t with rho = J0(2 pi f_d dt) over the
simulated time dt between draws.  Nakagami-m is obtained from the exponential
power |g|^2 through the probability integral transform (u = 1 - exp(-|g|^2),
gain = F^-1_Gamma(m, 1/m)(u)), which gives the exact Nakagami marginal and keeps
the time correlation of the underlying Gaussian process.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["Fading"]

_MODELS = ("none", "rayleigh", "rician", "nakagami")


class Fading:
    """A stateful fading process for ``num_clients`` links.

    Parameters
    ----------
    model : one of none, rayleigh, rician, nakagami
    num_clients : number of links
    k_db : Rician K factor [dB] (ratio of LOS to scattered power)
    m : Nakagami shape, >= 0.5
    doppler_hz : maximum Doppler shift [Hz]; None = block fading (independent draws)
    los_phase_rad : [num_clients] phase of the Rician LOS ray (static)
    """

    def __init__(
        self,
        model: str,
        num_clients: int,
        k_db: float = 0.0,
        m: float = 1.0,
        doppler_hz: float | None = None,
        los_phase_rad: np.ndarray | None = None,
    ) -> None:
        if model not in _MODELS:
            raise ValueError(f"fading model {model!r} is not one of {', '.join(_MODELS)}")
        if m < 0.5:
            raise ValueError(f"Nakagami m must be >= 0.5, got {m}")
        if doppler_hz is not None and doppler_hz < 0:
            raise ValueError(f"doppler_hz must be >= 0, got {doppler_hz}")
        self.model = model
        self.num_clients = num_clients
        self.k = 10.0 ** (k_db / 10.0)
        self.m = m
        self.doppler_hz = doppler_hz
        self.los_phase_rad = np.zeros(num_clients) if los_phase_rad is None else np.asarray(los_phase_rad)
        self._g: np.ndarray | None = None
        self._t_s: float | None = None

    def correlation(self, dt_s: float) -> float:
        """Lag correlation of the scattered component, J0(2 pi f_d dt)."""
        if self.doppler_hz is None:
            return 0.0
        return float(special.j0(2.0 * np.pi * self.doppler_hz * dt_s))

    def gain(self, t_s: float, normals: np.ndarray) -> np.ndarray:
        """Power gain at simulated time ``t_s``.

        normals : [num_clients, 2] fresh standard normals (innovations)
        returns : [num_clients] power gains with mean 1
        """
        w = (normals[:, 0] + 1j * normals[:, 1]) / np.sqrt(2.0)
        if self._g is None or self._t_s is None or self.doppler_hz is None:
            g = w
        else:
            rho = self.correlation(t_s - self._t_s)
            g = rho * self._g + np.sqrt(max(0.0, 1.0 - rho * rho)) * w
        self._g, self._t_s = g, t_s
        return self._apply(g)

    def _apply(self, g: np.ndarray) -> np.ndarray:
        if self.model == "none":
            return np.ones(g.shape[0])
        if self.model == "rayleigh":
            return np.abs(g) ** 2
        if self.model == "rician":
            los = np.sqrt(self.k / (self.k + 1.0)) * np.exp(1j * self.los_phase_rad)
            return np.abs(los + g / np.sqrt(self.k + 1.0)) ** 2
        u = -np.expm1(-np.abs(g) ** 2)
        return special.gammaincinv(self.m, u) / self.m
