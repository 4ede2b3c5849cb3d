"""Client drops: where clients stand relative to the base station.

Geometry is kept apart from channel maths: a drop gives 2D ground distances and
heights; path-loss models turn them into decibels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Drop", "uniform_disc", "fixed", "ring"]


@dataclass(frozen=True)
class Drop:
    """Client positions around a base station at the origin.

    xy_m : [num_clients, 2], ground-plane positions [m]
    ue_height_m, bs_height_m : antenna heights [m]
    bs_xy_m : [num_clients, 2] serving site of each client [m]; None = one base station at the origin
    site : [num_clients] serving site index (multi-cell drops); None = one cell
    """

    xy_m: np.ndarray
    ue_height_m: float
    bs_height_m: float
    bs_xy_m: np.ndarray | None = None
    site: np.ndarray | None = None

    @property
    def distance_2d_m(self) -> np.ndarray:
        """[num_clients] ground distance to the serving base station [m]."""
        rel = self.xy_m if self.bs_xy_m is None else self.xy_m - self.bs_xy_m
        return np.hypot(rel[:, 0], rel[:, 1])

    @property
    def distance_3d_m(self) -> np.ndarray:
        """[num_clients] straight-line distance between antennas [m]."""
        return np.hypot(self.distance_2d_m, self.bs_height_m - self.ue_height_m)


def uniform_disc(
    rngs: list[np.random.Generator],
    radius_m: float,
    min_distance_m: float,
    ue_height_m: float,
    bs_height_m: float,
) -> Drop:
    """Uniform in area on the annulus min_distance_m <= d <= radius_m.

    One generator per client, so client i's position does not depend on how
    many clients there are.
    """
    if not 0 <= min_distance_m < radius_m:
        raise ValueError(f"need 0 <= min_distance_m < radius_m, got {min_distance_m}, {radius_m}")
    u = np.array([g.random(2) for g in rngs]).reshape(-1, 2)
    # Inverse CDF of the radius for a density proportional to r on [r0, r1].
    r = np.sqrt(min_distance_m**2 + u[:, 0] * (radius_m**2 - min_distance_m**2))
    phi = 2 * np.pi * u[:, 1]
    return Drop(np.column_stack([r * np.cos(phi), r * np.sin(phi)]), ue_height_m, bs_height_m)


def ring(rngs: list[np.random.Generator], radius_m: float, ue_height_m: float, bs_height_m: float) -> Drop:
    """Every client at ground distance ``radius_m``, at a uniform random bearing."""
    if not radius_m > 0:
        raise ValueError(f"radius_m must be > 0, got {radius_m}")
    phi = 2 * np.pi * np.array([g.random() for g in rngs])
    return Drop(radius_m * np.column_stack([np.cos(phi), np.sin(phi)]), ue_height_m, bs_height_m)


def fixed(distances_m: list[float] | np.ndarray, ue_height_m: float, bs_height_m: float) -> Drop:
    """Clients on the x axis at the given ground distances [m]."""
    d = np.asarray(distances_m, dtype=float)
    if d.ndim != 1 or np.any(~np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"distances_m must be finite and >= 0, got {distances_m}")
    return Drop(np.column_stack([d, np.zeros_like(d)]), ue_height_m, bs_height_m)
