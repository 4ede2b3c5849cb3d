"""Client mobility: where each client stands at simulated time t.

Clients move on the ground plane inside an annulus around the base station
(``min_distance_m <= |p| <= radius_m`` for waypoints; paths may cross the
inner circle, path-loss models clamp short distances).  Positions advance
only forward in time, from the last query, so any simulated time step works:
a round of 10 s at 30 m/s crosses a 250 m cell and comes back.

- ``static``: clients never move.
- ``constant_velocity``: a random heading per client, kept until the client
  meets the cell edge, where it reflects specularly (angle in = angle out), so
  clients stay in the cell and the population stays uniform in area.
- ``random_waypoint``: each client walks at ``speed_mps`` to a waypoint drawn
  uniformly in area on the annulus, then at once to the next (no pause time).

The Doppler shift of a client moving at v is f_d = v f_c / c (:func:`doppler_hz`).
"""

from __future__ import annotations

import numpy as np

from channels.pathloss import SPEED_OF_LIGHT_M_S

__all__ = ["MOBILITY_KINDS", "Mobility", "doppler_hz"]

MOBILITY_KINDS = ("static", "constant_velocity", "random_waypoint")
# Safety net against a float pathology; a real step needs about v dt / radius passes.
_MAX_PASSES = 100_000


def doppler_hz(speed_mps: float, carrier_hz: float) -> float:
    """Maximum Doppler shift f_d = v f_c / c [Hz]."""
    return speed_mps * carrier_hz / SPEED_OF_LIGHT_M_S


def _annulus_point(rng: np.random.Generator, r_min: float, r_max: float) -> np.ndarray:
    u = rng.random(2)
    r = np.sqrt(r_min**2 + u[0] * (r_max**2 - r_min**2))
    return np.array([r * np.cos(2 * np.pi * u[1]), r * np.sin(2 * np.pi * u[1])])


class Mobility:
    """Positions of ``num_clients`` moving clients over simulated time.

    kind : static, constant_velocity or random_waypoint
    xy_m : [num_clients, 2] positions at t = 0 [m]
    speed_mps : ground speed of every client [m/s]
    radius_m, min_distance_m : the annulus clients move in [m]
    rngs : one generator per client (headings, waypoints)
    """

    def __init__(
        self,
        kind: str,
        xy_m: np.ndarray,
        speed_mps: float,
        radius_m: float,
        min_distance_m: float,
        rngs: list[np.random.Generator],
    ) -> None:
        if kind not in MOBILITY_KINDS:
            raise ValueError(f"mobility kind {kind!r} is not one of {', '.join(MOBILITY_KINDS)}")
        if speed_mps < 0 or not np.isfinite(speed_mps):
            raise ValueError(f"speed_mps must be finite and >= 0, got {speed_mps}")
        xy = np.array(xy_m, dtype=float).reshape(-1, 2)
        if np.any(np.hypot(xy[:, 0], xy[:, 1]) > radius_m * (1 + 1e-12)):
            raise ValueError(f"every client must start within radius_m={radius_m}")
        if len(rngs) != xy.shape[0]:
            raise ValueError(f"need one generator per client, got {len(rngs)} for {xy.shape[0]}")
        self.kind, self.speed_mps = kind, float(speed_mps)
        self.radius_m, self.min_distance_m = float(radius_m), float(min_distance_m)
        self._rngs = rngs
        self._xy = xy
        self._t_s = 0.0
        heading = np.array([2 * np.pi * g.random() for g in rngs]) if kind == "constant_velocity" else np.zeros(0)
        self._velocity = self.speed_mps * np.column_stack([np.cos(heading), np.sin(heading)])
        self._target = (
            np.array([_annulus_point(g, min_distance_m, radius_m) for g in rngs]).reshape(-1, 2)
            if kind == "random_waypoint"
            else np.zeros((0, 2))
        )

    @property
    def moving(self) -> bool:
        return self.kind != "static" and self.speed_mps > 0

    def positions(self, t_s: float) -> np.ndarray:
        """[num_clients, 2] positions at ``t_s`` [m]; time may only move forward."""
        dt = t_s - self._t_s
        if dt < 0:
            raise ValueError(f"mobility moves forward only: asked for t={t_s} after t={self._t_s}")
        if dt > 0 and self.moving:
            if self.kind == "constant_velocity":
                self._bounce(dt)
            else:
                self._walk(dt * self.speed_mps)
        self._t_s = t_s
        return self._xy.copy()

    def _bounce(self, dt_s: float) -> None:
        p, v, r = self._xy, self._velocity, self.radius_m
        remaining = np.full(p.shape[0], dt_s)
        for _ in range(_MAX_PASSES):
            end = p + v * remaining[:, None]
            out = np.hypot(end[:, 0], end[:, 1]) > r
            if not out.any():
                self._xy = end
                return
            p = np.where(out[:, None], p, end)
            remaining = np.where(out, remaining, 0.0)
            # Time s to the edge: |p + v s| = R, the root ahead of the client.
            po, vo = p[out], v[out]
            a = np.einsum("ij,ij->i", vo, vo)
            b = 2.0 * np.einsum("ij,ij->i", po, vo)
            c = np.einsum("ij,ij->i", po, po) - r * r
            s = np.clip((-b + np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))) / (2 * a), 0.0, remaining[out])
            hit = po + vo * s[:, None]
            n = hit / np.hypot(hit[:, 0], hit[:, 1])[:, None]
            p[out] = hit
            v[out] = vo - 2.0 * np.einsum("ij,ij->i", vo, n)[:, None] * n
            remaining[out] -= s
        raise RuntimeError("constant_velocity: too many reflections in one step")

    def _walk(self, distance_m: float) -> None:
        p, target = self._xy, self._target
        left = np.full(p.shape[0], distance_m)
        for _ in range(_MAX_PASSES):
            to = target - p
            dist = np.hypot(to[:, 0], to[:, 1])
            arrive = (dist <= left) & (left > 0)
            short = ~arrive & (left > 0)
            if short.any():
                p[short] += to[short] * (left[short] / dist[short])[:, None]
                left[short] = 0.0
            if not arrive.any():
                self._xy, self._target = p, target
                return
            p[arrive] = target[arrive]
            left[arrive] -= dist[arrive]
            for i in np.flatnonzero(arrive):
                target[i] = _annulus_point(self._rngs[i], self.min_distance_m, self.radius_m)
        raise RuntimeError("random_waypoint: too many waypoints in one step")
