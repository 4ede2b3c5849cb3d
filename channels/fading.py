"""Small-scale fading of the channel power gain (mean 1).

Every model is driven by two standard normals per client per draw (the real
and imaginary parts of a CN(0, 1) scattered component), so models and
algorithms that share a seed see the same underlying randomness.  Drawing the
normals is the caller's job (one generator per client); this module only
applies them.

Time correlation follows Jakes/Clarke, by one of two generators:

- ``sum_of_sinusoids`` (default): the scattered component is a sum of M = 32
  plane waves, g(t) = M^-1/2 sum_m exp(j (2 pi f_d t cos a_m + phi_m)) with
  arrival angles a_m = (2 pi m + theta) / M, theta and phi_m uniform and
  drawn once per client (the statistical sum-of-sinusoids model of Zheng and
  Xiao, IEEE Commun. Lett. 2002, with Pop and Beaulieu's random rotation of
  the angle set): its ensemble autocorrelation is E[g(t) g*(t + tau)] =
  J0(2 pi f_d tau) at every lag, and the power's is J0^2.  The process is a
  function of time alone, so it can be read at any instants (round starts,
  coherence blocks within a transfer) at no extra random cost.
- ``ar1``: g_t = rho g_{t-dt} + sqrt(1 - rho^2) w_t with rho = J0(2 pi f_d dt)
  over the time dt between draws: exact at lag one, but at lag k it decays
  as J0(2 pi f_d dt)^k (power J0^(2k)) instead of J0(2 pi f_d k dt).

Nakagami-m is obtained from the exponential
power |g|^2 through the probability integral transform (u = 1 - exp(-|g|^2),
gain = F^-1_Gamma(m, 1/m)(u)), which gives the exact Nakagami marginal and keeps
the time correlation of the underlying Gaussian process.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Fading", "FADING_MODELS", "DOPPLER_MODELS", "SOS_WAVES", "coherence_time_s"]

FADING_MODELS = ("none", "rayleigh", "rician", "nakagami")
DOPPLER_MODELS = ("sum_of_sinusoids", "ar1")
SOS_WAVES = 32


def coherence_time_s(doppler_hz: float) -> float:
    """T_c = 0.423 / f_d [s]: the lag where the Jakes correlation J0(2 pi f_d tau) falls to 0.5 (Rappaport)."""
    return 0.423 / doppler_hz


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
    doppler_model : sum_of_sinusoids or ar1 (module docstring)
    rngs : one generator per client: the sum-of-sinusoids angles and phases
        (drawn once here), or ar1's innovations within a round
        (:meth:`block_gains`); needed unless block fading
    """

    def __init__(
        self,
        model: str,
        num_clients: int,
        k_db: float = 0.0,
        m: float = 1.0,
        doppler_hz: float | None = None,
        los_phase_rad: np.ndarray | None = None,
        doppler_model: str = "ar1",
        rngs: list[np.random.Generator] | None = None,
    ) -> None:
        if model not in FADING_MODELS:
            raise ValueError(f"fading model {model!r} is not one of {', '.join(FADING_MODELS)}")
        if m < 0.5:
            raise ValueError(f"Nakagami m must be >= 0.5, got {m}")
        if doppler_hz is not None and doppler_hz < 0:
            raise ValueError(f"doppler_hz must be >= 0, got {doppler_hz}")
        if doppler_model not in DOPPLER_MODELS:
            raise ValueError(f"doppler_model {doppler_model!r} is not one of {', '.join(DOPPLER_MODELS)}")
        if doppler_hz is not None and doppler_model == "sum_of_sinusoids" and rngs is None:
            raise ValueError("the sum-of-sinusoids generator needs one generator per client (rngs)")
        self.doppler_model = doppler_model
        self.rngs = rngs
        self._omega_cos = np.empty((0, 0))
        self._phase = np.empty((0, 0))
        if doppler_hz is not None and doppler_model == "sum_of_sinusoids" and rngs is not None:
            # theta then M phases per client, from the client's own stream.
            u = np.array([g.uniform(-np.pi, np.pi, SOS_WAVES + 1) for g in rngs]).reshape(len(rngs), SOS_WAVES + 1)
            angles = (2.0 * np.pi * np.arange(1, SOS_WAVES + 1)[None, :] + u[:, :1]) / SOS_WAVES
            self._omega_cos = 2.0 * np.pi * doppler_hz * np.cos(angles)
            self._phase = u[:, 1:]
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
        from scipy import special  # here, not at import: scipy.special costs a network-only start-up ~0.3 s

        return float(special.j0(2.0 * np.pi * self.doppler_hz * dt_s))

    @property
    def sum_of_sinusoids(self) -> bool:
        return self.doppler_hz is not None and self.doppler_model == "sum_of_sinusoids"

    def scattered(self, t_s: np.ndarray) -> np.ndarray:
        """[num_clients, len(t_s)] sum-of-sinusoids scattered component CN(0, 1) at times ``t_s``."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        arg = self._omega_cos[:, :, None] * t[None, None, :] + self._phase[:, :, None]
        return np.exp(1j * arg).sum(axis=1) / np.sqrt(SOS_WAVES)

    def block_gains(self, t0_s: float, block_s: float, num_blocks: int) -> np.ndarray:
        """[num_clients, num_blocks] power gains at t0 + k block_s, k = 0 .. num_blocks - 1.

        Block 0 is the gain :meth:`gain` gave at ``t0_s`` (call it first).
        sum_of_sinusoids reads the process at those instants; ar1 chains
        from the round's gain with rho = J0(2 pi f_d block_s) and innovations
        from ``rngs``, without moving the round-to-round chain.
        """
        if self._g is None or self.doppler_hz is None:
            raise ValueError("block_gains needs a Doppler and a gain drawn at t0 first")
        if self.sum_of_sinusoids:
            return self._apply(self.scattered(t0_s + block_s * np.arange(num_blocks)))
        if self.rngs is None:
            raise ValueError("ar1 block gains need one generator per client (rngs)")
        rho = self.correlation(block_s)
        w = np.array([g.standard_normal((max(0, num_blocks - 1), 2)) for g in self.rngs])
        w = w.reshape(self.num_clients, max(0, num_blocks - 1), 2)
        out = np.empty((self.num_clients, num_blocks), dtype=complex)
        out[:, 0] = self._g
        innov = np.sqrt(max(0.0, 1.0 - rho * rho)) * (w[..., 0] + 1j * w[..., 1]) / np.sqrt(2.0)
        for k in range(1, num_blocks):
            out[:, k] = rho * out[:, k - 1] + innov[:, k - 1]
        return self._apply(out)

    def gain(self, t_s: float, normals: np.ndarray) -> np.ndarray:
        """Power gain at simulated time ``t_s``.

        normals : [num_clients, 2] fresh standard normals (innovations; the
            sum-of-sinusoids generator does not use them, but they are drawn
            all the same so that streams stay aligned across models)
        returns : [num_clients] power gains with mean 1
        """
        w = (normals[:, 0] + 1j * normals[:, 1]) / np.sqrt(2.0)
        if self.sum_of_sinusoids:
            g = self.scattered(np.array([t_s]))[:, 0]
        elif self._g is None or self._t_s is None or self.doppler_hz is None:
            g = w
        else:
            rho = self.correlation(t_s - self._t_s)
            g = rho * self._g + np.sqrt(max(0.0, 1.0 - rho * rho)) * w
        self._g, self._t_s = g, t_s
        return self._apply(g)

    def _apply(self, g: np.ndarray) -> np.ndarray:
        """Power gain of each scattered component; any shape [num_clients, ...]."""
        if self.model == "none":
            return np.ones(g.shape)
        if self.model == "rayleigh":
            return np.abs(g) ** 2
        if self.model == "rician":
            phase = self.los_phase_rad.reshape(self.los_phase_rad.shape + (1,) * (g.ndim - 1))
            los = np.sqrt(self.k / (self.k + 1.0)) * np.exp(1j * phase)
            return np.abs(los + g / np.sqrt(self.k + 1.0)) ** 2
        u = -np.expm1(-np.abs(g) ** 2)
        from scipy import special

        return special.gammaincinv(self.m, u) / self.m
