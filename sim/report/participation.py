"""Report sections on who took part: participation per client, fairness, async staleness.

Jain's fairness index of x over N clients is ``(sum x)^2 / (N sum x^2)``:
1 when every client has the same share, ``1/N`` when one client has it all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.core.columns import RunResult

__all__ = ["jain_index", "participation_stats", "participation_sections"]


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness index of the non-negative values ``x`` [N]; nan when all are 0."""
    x = np.asarray(x, dtype=float)
    s2 = float((x * x).sum())
    return float(x.sum() ** 2 / (x.shape[0] * s2)) if s2 > 0 else math.nan


def participation_stats(result: RunResult, num_clients: int) -> dict[str, Any]:
    """Per-client rows, deliveries and delivered bytes, and their fairness indices."""
    ids = result.client_column("client").astype(int)
    delivered = result.client_column("delivered").astype(float)
    bits = result.client_column("payload_bits").astype(float)
    rows = np.bincount(ids, minlength=num_clients).astype(float)
    deliveries = np.bincount(ids, weights=delivered, minlength=num_clients)
    delivered_bytes = np.bincount(ids, weights=bits * delivered, minlength=num_clients) / 8
    return {
        "participations": rows,
        "deliveries": deliveries,
        "delivered_bytes": delivered_bytes,
        "jain_participation": jain_index(rows),
        "jain_delivered_bytes": jain_index(delivered_bytes),
    }


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def participation_sections(scn: Any, result: RunResult, max_clients: int = 30) -> list[str]:
    """Markdown lines: participation and fairness; for async, staleness and accuracy over time."""
    n = scn.clients.count
    st = participation_stats(result, n)
    cl = scn.clients
    who = "every available client" if cl.per_round is None else f"{cl.per_round} of {n} per round by {cl.selection}"
    if scn.round.mode == "async":
        who = f"async, buffer {scn.round.buffer_size}"
    out = [
        "## Participation",
        "",
        f"Selection: {who}; availability {cl.availability}. Jain's fairness index (1 = equal, 1/N = one client): "
        f"participation {st['jain_participation']:.3f}, delivered bytes {st['jain_delivered_bytes']:.3f}.",
        "",
    ]
    rows_ = st["participations"]
    order = np.arange(n) if n <= max_clients else np.argsort(rows_, kind="stable")[np.r_[0:5, n - 5:n]]
    if n > max_clients:
        out += [f"The 5 least and 5 most often taking part of {n} clients:", ""]
    out += _table(
        ["client", "rounds taking part", "uploads delivered", "delivered bytes"],
        [[int(i), int(rows_[i]), int(st["deliveries"][i]), int(st["delivered_bytes"][i])] for i in order],
    )
    out.append("")
    if scn.round.mode == "async" and "staleness" in result.clients:
        tau = result.client_column("staleness")
        tau = tau[tau >= 0]
        if tau.size:
            values, counts = np.unique(tau, return_counts=True)
            out += ["## Staleness of updates (async)", "", *_table(
                ["staleness [versions]", "updates"], [[int(v), int(c)] for v, c in zip(values, counts)]
            ), ""]
        if result.rounds and "eval_accuracy" in result.rounds[0]:
            shown = np.unique(np.linspace(0, len(result.rounds) - 1, min(len(result.rounds), 20)).astype(int))
            out += ["## Accuracy against simulated time (async)", "", *_table(
                ["aggregation", "sim time [s]", "accuracy"],
                [[int(i), f"{result.rounds[i]['sim_time_s']:.2f}", f"{result.rounds[i]['eval_accuracy']:.4f}"] for i in shown],
            ), ""]
    return out
