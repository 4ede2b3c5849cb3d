"""When each client can take part: on intervals in simulated time.

- ``always``: on for the whole run;
- ``markov``: a two-state (on/off) continuous-time Markov chain per client,
  exponential on and off durations of means ``mean_on_s`` and ``mean_off_s``,
  started in its stationary law (on with probability
  ``mean_on / (mean_on + mean_off)``; by memorylessness the first sojourn is
  again exponential), drawn lazily from the client's own generator
  (``rng`` purpose ``availability``) so that client i's chain depends on
  neither N nor the algorithm;
- ``trace``: a CSV of on intervals, one row each::

      client,start_s,end_s

  half-open ``[start_s, end_s)``; off outside them.  Clients are 0 .. n-1,
  each needs at least one interval, a client's intervals may not overlap.

Every kind answers two questions: who is on at ``t`` and, for a client on
at ``t``, when it next goes off (``inf`` if never).
"""

from __future__ import annotations

import bisect
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.core.rng import generator

__all__ = ["Availability", "availability_for", "read_availability_trace"]


class Availability:
    """On intervals per client; markov chains are extended on demand."""

    def __init__(self, kind: str, num_clients: int, seed: int = 0, mean_on_s: float = 1.0, mean_off_s: float = 1.0,
                 intervals: list[list[tuple[float, float]]] | None = None) -> None:
        if kind not in ("always", "markov", "trace"):
            raise ValueError(f"availability {kind!r} is not one of always, markov, trace")
        if kind == "markov" and not (mean_on_s > 0 and mean_off_s > 0):
            raise ValueError(f"mean_on_s and mean_off_s must be > 0, got {mean_on_s}, {mean_off_s}")
        self.kind, self.n = kind, num_clients
        self.mean_on_s, self.mean_off_s = mean_on_s, mean_off_s
        # Per client: switching times t_0 < t_1 < ...; on in [t_2j, t_2j+1).
        self._edges: list[list[float]] = []
        self._horizon = np.zeros(num_clients)  # markov: drawn up to here
        self._on_now = np.zeros(num_clients, dtype=bool)  # markov: state at the horizon
        if kind == "trace":
            if intervals is None or len(intervals) != num_clients:
                raise ValueError("trace availability needs one interval list per client")
            self._edges = [[t for iv in ivs for t in iv] for ivs in intervals]
        elif kind == "markov":
            self._gens = [generator(seed, "availability", i) for i in range(num_clients)]
            p_on = mean_on_s / (mean_on_s + mean_off_s)
            for i, g in enumerate(self._gens):
                on = bool(g.random() < p_on)
                self._on_now[i] = on
                # A chain that starts off has its first on interval at its first switch.
                self._edges.append([0.0] if on else [])

    @property
    def always(self) -> bool:
        return self.kind == "always"

    def _extend(self, i: int, t_s: float) -> None:
        """Markov: draw client i's switches until past ``t_s``."""
        g, edges = self._gens[i], self._edges[i]
        while self._horizon[i] <= t_s:
            mean = self.mean_on_s if self._on_now[i] else self.mean_off_s
            self._horizon[i] += g.exponential(mean)
            edges.append(float(self._horizon[i]))
            self._on_now[i] = not self._on_now[i]

    def is_on(self, t_s: float) -> np.ndarray:
        """[N] bool: who is on at ``t_s``."""
        if self.always:
            return np.ones(self.n, dtype=bool)
        return np.array([self.off_at(i, t_s) > t_s for i in range(self.n)], dtype=bool)

    def off_at(self, i: int, t_s: float) -> float:
        """When client i, on at ``t_s``, goes off (inf if never); ``t_s`` itself if it is off."""
        if self.always:
            return math.inf
        if self.kind == "markov":
            self._extend(i, t_s)
        edges = self._edges[i]
        k = bisect.bisect_right(edges, t_s)
        if k % 2 == 0:
            return t_s  # before the first interval, or in a gap
        return edges[k] if k < len(edges) else math.inf

    def on_at(self, i: int, t_s: float) -> float:
        """The first time at or after ``t_s`` when client i is on (inf if never again)."""
        if self.always:
            return t_s
        if self.kind == "markov":
            self._extend(i, t_s)
        edges = self._edges[i]
        k = bisect.bisect_right(edges, t_s)
        if k % 2 == 1:
            return t_s
        return edges[k] if k < len(edges) else math.inf

    def on_fraction(self, i: int, until_s: float) -> float:
        """Share of [0, until_s) that client i is on."""
        if self.always:
            return 1.0
        if self.kind == "markov":
            self._extend(i, until_s)
        e = self._edges[i]
        on = sum(max(0.0, min(e[j + 1] if j + 1 < len(e) else math.inf, until_s) - min(e[j], until_s))
                 for j in range(0, len(e), 2))
        return on / until_s


def read_availability_trace(path: str | Path, num_clients: int) -> list[list[tuple[float, float]]]:
    """On intervals per client from a trace CSV; ValueError names the file, line and problem."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"client", "start_s", "end_s"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: availability trace needs columns client, start_s, end_s (missing {', '.join(sorted(missing))})")
        per: list[list[tuple[float, float, int]]] = [[] for _ in range(num_clients)]
        for line, row in enumerate(reader, start=2):
            try:
                c, start, end = int(row["client"]), float(row["start_s"]), float(row["end_s"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{line}: not a number in {dict(row)}") from None
            if not 0 <= c < num_clients:
                raise ValueError(f"{path}:{line}: client {c} is not in 0..{num_clients - 1}")
            if not (math.isfinite(start) and start >= 0 and end > start):
                raise ValueError(f"{path}:{line}: need 0 <= start_s < end_s, start_s finite (got {start}, {end})")
            per[c].append((start, end, line))
    absent = [c for c in range(num_clients) if not per[c]]
    if absent:
        raise ValueError(f"{path}: no interval for client {absent[0]} ({len(absent)} clients missing)")
    out = []
    for ivs in per:
        ivs.sort()
        for (s0, e0, _), (s1, _, line) in zip(ivs, ivs[1:]):
            if s1 < e0:
                raise ValueError(f"{path}:{line}: interval starting at {s1} overlaps the one ending at {e0}")
        merged: list[tuple[float, float]] = []
        for s, e, _ in ivs:
            if merged and s == merged[-1][1]:
                merged[-1] = (merged[-1][0], e)  # touching intervals are one
            else:
                merged.append((s, e))
        out.append(merged)
    return out


def availability_for(clients: Any, seed: int) -> Availability:
    """The availability of a scenario's ``clients`` section (validated there)."""
    intervals = None
    if clients.availability == "trace":
        intervals = read_availability_trace(clients.availability_trace, clients.count)
    return Availability(clients.availability, clients.count, seed, clients.mean_on_s, clients.mean_off_s, intervals)
