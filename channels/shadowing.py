"""Spatially correlated log-normal shadowing (TR 38.901 7.4.4, 7.6.3.1).

Shadow fading of two links from one base station to UTs a distance dx apart
is correlated as R(dx) = exp(-dx / d_cor) (Gudmundson's exponential model,
the TR's choice), d_cor being the scenario's SF correlation distance (TR 38.901
Table 7.5-6: UMi 10 m LOS / 13 m NLOS, UMa 37 / 50 m, RMa 37 / 120 m, InH
10 / 6 m).

- Across clients at the drop: s = sigma * L z, with L the lower Cholesky
  factor of the correlation matrix of the clients in index order.  Client i's
  value depends only on the normals of clients 0..i, so adding clients does
  not change the existing ones.  O(n^3): meant for up to a few thousand
  clients.
- Along a moving client's path: the unit-variance shadowing process is AR(1)
  in displacement, z' = rho z + sqrt(1 - rho^2) w with rho = exp(-|dp| / d_cor),
  which keeps its marginal and the exponential autocorrelation exactly.
  Innovations are independent across clients, so cross-client correlation is
  exact at the drop and not maintained as clients move apart.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_CORRELATED_CLIENTS", "correlated_normals", "evolve_normals"]

MAX_CORRELATED_CLIENTS = 5000


def correlated_normals(xy_m: np.ndarray, correlation_m: float, normals: np.ndarray) -> np.ndarray:
    """Unit-variance normals with corr exp(-|p_i - p_j| / correlation_m).

    xy_m : [n, 2] positions [m]; normals : [n] independent standard normals
    returns : [n]
    """
    xy = np.asarray(xy_m, dtype=float).reshape(-1, 2)
    n = xy.shape[0]
    if n > MAX_CORRELATED_CLIENTS:
        raise ValueError(f"correlated shadowing supports up to {MAX_CORRELATED_CLIENTS} clients, got {n}")
    if not correlation_m > 0:
        raise ValueError(f"correlation_m must be > 0, got {correlation_m}")
    dist = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    corr = np.exp(-dist / correlation_m)
    # Co-located clients make the matrix singular; a tiny ridge keeps Cholesky
    # defined and changes correlations by at most 1e-10.
    chol = np.linalg.cholesky(corr + 1e-10 * np.eye(n))
    return chol @ np.asarray(normals, dtype=float)


def evolve_normals(z: np.ndarray, displacement_m: np.ndarray, correlation_m: float, innovations: np.ndarray) -> np.ndarray:
    """One AR(1) step in displacement: z' = rho z + sqrt(1 - rho^2) w, rho = exp(-d / d_cor).

    z, displacement_m, innovations : [n]
    """
    rho = np.exp(-np.asarray(displacement_m, dtype=float) / correlation_m)
    return rho * z + np.sqrt(1.0 - rho * rho) * innovations
