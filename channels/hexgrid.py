"""Hexagonal multi-cell drop: sites on a hexagonal grid, clients uniform over the cells.

Sites sit at the centres of flat-topped hexagons, ``num_rings`` rings around
a central site (1, 7, 19, 37, ... sites), neighbours ``isd_m`` apart: axial
coordinates (q, r) with |q|, |r|, |q + r| <= num_rings map to
x = isd sqrt(3)/2 q, y = isd (r + q/2), the layout of Sionna's
``sionna.sys.HexGrid`` (the tests check the two agree).  Each client picks a
cell uniformly and a point uniformly in that hexagon (circumradius
isd / sqrt(3)), at least ``min_distance_m`` from its site, and is served by
that site, the nearest one.
"""

from __future__ import annotations

import numpy as np

from channels.geometry import Drop

__all__ = ["hex_sites", "hex_drop", "hex_cell_points"]


def hex_sites(num_rings: int, isd_m: float) -> np.ndarray:
    """[num_sites, 2] site positions [m], the central site first."""
    if num_rings < 0 or not isd_m > 0:
        raise ValueError(f"need num_rings >= 0 and isd_m > 0, got {num_rings}, {isd_m}")
    axial = [
        (q, r)
        for q in range(-num_rings, num_rings + 1)
        for r in range(-num_rings, num_rings + 1)
        if abs(q + r) <= num_rings
    ]
    axial.sort(key=lambda qr: (max(abs(qr[0]), abs(qr[1]), abs(qr[0] + qr[1])), qr))
    q, r = np.array(axial, dtype=float).T
    return np.column_stack([isd_m * np.sqrt(3.0) / 2.0 * q, isd_m * (r + q / 2.0)])


def site_count(num_rings: int) -> int:
    """Sites of ``num_rings`` rings around one centre: 1 + 6 + 12 + ... = 1 + 3 R (R + 1), as :func:`hex_sites` lays out."""
    return 1 + 3 * num_rings * (num_rings + 1)


def _in_hexagon(dx: float, dy: float, circumradius: float) -> bool:
    """Inside a flat-topped hexagon centred at the origin."""
    half_height = np.sqrt(3.0) / 2.0 * circumradius
    return abs(dy) <= half_height and np.sqrt(3.0) * abs(dx) + abs(dy) <= np.sqrt(3.0) * circumradius


def hex_cell_points(isd_m: float, min_distance_m: float, num_points: int = 1600) -> np.ndarray:
    """[m, 2] offsets from a site [m] that sample its hexagon uniformly in area.

    The hexagon (circumradius isd / sqrt(3)) is cut into its six equilateral
    triangles, each into k^2 equal small triangles (6 k^2 about
    ``num_points``); the offsets are their centroids, less those within
    ``min_distance_m`` of the site.  The mean of a smooth function over them
    is the midpoint rule for its mean over a uniformly dropped client (error
    O(1/k^2)).  Deterministic, so averaging over it needs no random stream.
    """
    big_r = isd_m / np.sqrt(3.0)
    k = max(1, int(round(np.sqrt(num_points / 6.0))))
    i, j = (a.ravel() for a in np.meshgrid(np.arange(k), np.arange(k), indexing="ij"))
    up = i + j <= k - 1
    down = i + j <= k - 2
    # Barycentric weights of the small triangles' centroids on the two outer vertices.
    w = np.concatenate(
        [np.column_stack([i[up] + 1 / 3, j[up] + 1 / 3]), np.column_stack([i[down] + 2 / 3, j[down] + 2 / 3])]
    ) / k
    corners = big_r * np.column_stack([np.cos(np.arange(7) * np.pi / 3.0), np.sin(np.arange(7) * np.pi / 3.0)])
    pts = np.concatenate([w[:, :1] * corners[t] + w[:, 1:] * corners[t + 1] for t in range(6)])
    return pts[np.hypot(pts[:, 0], pts[:, 1]) >= min_distance_m]


def hex_drop(
    rngs: list[np.random.Generator],
    num_rings: int,
    isd_m: float,
    min_distance_m: float,
    ue_height_m: float,
    bs_height_m: float,
) -> Drop:
    """One client per generator, uniform over the cells; ``Drop.site`` is its serving site."""
    sites = hex_sites(num_rings, isd_m)
    big_r = isd_m / np.sqrt(3.0)
    if not 0 <= min_distance_m < isd_m / 2.0:
        raise ValueError(f"need 0 <= min_distance_m < isd_m / 2, got {min_distance_m}, {isd_m}")
    site = np.empty(len(rngs), dtype=np.int64)
    xy = np.empty((len(rngs), 2))
    for i, g in enumerate(rngs):
        site[i] = int(g.integers(sites.shape[0]))
        # Rejection from the bounding box: 3/4 of its points are in the hexagon.
        while True:
            dx, dy = g.uniform(-big_r, big_r), g.uniform(-big_r, big_r) * np.sqrt(3.0) / 2.0
            if _in_hexagon(dx, dy, big_r) and np.hypot(dx, dy) >= min_distance_m:
                break
        xy[i] = sites[site[i]] + (dx, dy)
    return Drop(xy, ue_height_m, bs_height_m, bs_xy_m=sites[site], site=site)
