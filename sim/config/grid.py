"""Sweep points from a grid, zipped lists and a seed count.

The expansion order is part of the interface (it is the row order of
``results.csv``): the Cartesian product of the grid with its first key
outermost, then the zipped rows, then the seeds innermost, so points that
differ only in seed sit next to each other.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["expand", "count_points", "point_id", "parse_values", "MAX_SWEEP_POINTS"]

# Each point is a run folder and a row; past this a sweep is a mistake (aliased grids reach 10^9 in 300 bytes).
MAX_SWEEP_POINTS = 10_000


def count_points(grid: Mapping[str, Sequence[Any]], zipped: Mapping[str, Sequence[Any]], seeds: int) -> int:
    """How many points :func:`expand` gives, without building them."""
    n = math.prod(len(v) for v in grid.values())
    n *= max((len(v) for v in zipped.values()), default=1)
    return n if "seed" in grid or "seed" in zipped else n * seeds


def expand(
    grid: Mapping[str, Sequence[Any]],
    zipped: Mapping[str, Sequence[Any]],
    seeds: int,
    base_seed: int,
) -> list[dict[str, Any]]:
    """Every point as ``{dotted key: value, ..., "seed": s}``.

    ``zipped`` lists advance together (they must have equal lengths; the
    caller validates that); with ``seeds`` > 1 each point is repeated for
    seeds ``base_seed, base_seed + 1, ...`` unless ``seed`` is itself swept.
    """
    grid_rows = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    lengths = {len(v) for v in zipped.values()}
    if len(lengths) > 1:
        raise ValueError(f"zipped lists differ in length: {sorted(lengths)}")
    n_zip = lengths.pop() if lengths else 1
    zip_rows = [{k: v[i] for k, v in zipped.items()} for i in range(n_zip)]
    seed_swept = "seed" in grid or "seed" in zipped
    seed_rows = [{}] if seed_swept else [{"seed": base_seed + s} for s in range(seeds)]
    return [{**g, **z, **s} for g in grid_rows for z in zip_rows for s in seed_rows]


def point_id(resolved_yaml: str) -> str:
    """Stable folder name of a point: a digest of its fully resolved scenario.

    Any change to the base scenario or the point's values gives a new id, so a
    rerun never mistakes an old result for the current one.
    """
    return hashlib.sha256(resolved_yaml.encode("utf-8")).hexdigest()[:12]


def parse_values(raw: str) -> list[Any]:
    """``"0,5,10"`` -> ``[0, 5, 10]``; ``"[[1, 2], [3]]"`` (YAML flow list) -> as is.

    Each comma-separated item is parsed as YAML, so numbers, booleans, null
    and names come out typed.
    """
    import yaml

    text = raw.strip()
    if text.startswith("["):
        values = yaml.safe_load(text)
        if not isinstance(values, list):
            raise ValueError(f"expected a list, got {text!r}")
        return values
    return [yaml.safe_load(item) if item.strip() else None for item in text.split(",")]
