"""The report of one run: report.md + plots + report.html, from what the run recorded.

``fedwave run`` hands the report what the run already holds
(:func:`run_data`: its result, summary and client positions), so nothing is
read back or recomputed; ``fedwave report`` rebuilds the same from the
folder's records (:func:`sim.store.run_records.load_run`: ``scenario.resolved.yaml``,
``rounds.csv``, ``clients.csv``, ``summary.json``, ``positions.csv``), so
any finished run folder can be reported again, without the radio (no
Sionna, no torch, no SimPy): the cell map draws the recorded positions.  A
folder written before positions were recorded gets no map.
:func:`write_run_report` is the one writer of a run's ``report.md``, with
plots (``fedwave run``, ``fedwave report``) or without (a sweep's points).

The plots scale with the run: past MAX_BARS rounds per-round charts are
binned; past MAX_POINTS points, scatters become hexbin densities (or means
per hexagon) and per-client profiles quantile bands over bins of clients.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from sim.report.html import markdown_to_html
from sim.core.outcome import OUTCOMES
from sim.report.plots import COLORS, bytes_axis, integer_axis, log_if_wide, new_figure, to_png
from sim.store.records import atomic_write
from sim.report.summary import render_report
from sim.store.run_records import RunData, client_data, is_run_folder, load_run, run_data

__all__ = ["RunData", "run_data", "load_run", "run_figures", "write_run_report", "is_run_folder"]

Figure = tuple[str, str, bytes]  # file name, caption, PNG

# Matplotlib draws every bar and marker: past these counts rounds are binned and points thinned,
# so a 100000-round run reports in seconds.
MAX_BARS = 300
# Past this many bars, a series is drawn as one filled step outline (a bar per round costs a patch each).
FEW_BARS = 40
MAX_POINTS = 20_000
# Per-client profiles past this many clients: quantile bands over bins of clients.
MAX_CLIENT_POINTS = 2_000


# The figures' shapes (new_figure's arguments), named once so that the report worker can lay them out ahead.
ONE: dict[str, Any] = {}
PAIR: dict[str, Any] = {"ncols": 2, "width_in": 4.6}
MAP: dict[str, Any] = {"width_in": 5.4, "height_in": 4.6}
# run_figures' shapes in its order (the k figure's ONE is left unused in a run without Top-k).
FIGURE_SHAPES = (ONE, PAIR, ONE, PAIR, ONE, MAP)


def thin(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced indices of ``0 .. n-1``, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


def _bins(rounds: np.ndarray) -> tuple[np.ndarray, int]:
    """Bin index [len(rounds)] and bin width [rounds] so that at most MAX_BARS bars are drawn."""
    width = max(1, -(-rounds.size // MAX_BARS))
    return np.arange(rounds.size) // width, width


def _per_client(data: RunData, name: str) -> np.ndarray:
    n = data.scn.clients.count
    return np.bincount(data.clients["client"].astype(int), weights=data.clients[name], minlength=n)


def _uplink_figure(data: RunData) -> Figure:
    r = [data.rounds[i] for i in thin(len(data.rounds), MAX_POINTS // 10)]
    style = "o-" if len(r) == len(data.rounds) else "-"
    cum = [row["cum_uplink_bytes"] for row in r]
    alg = data.scn.workload.algorithm
    fig, ax = new_figure(**ONE)
    if r and "eval_accuracy" in r[0]:
        ax.plot(cum, [row["eval_accuracy"] for row in r], style, color=COLORS[0], label=alg)
        ax.set_xlabel("cumulative uplink payload")
        ax.set_ylabel("accuracy")
        log_if_wide(ax, cum, "x")
        bytes_axis(ax, "x")
        caption = "Accuracy against cumulative uplink bytes"
        name = "uplink_vs_accuracy.png"
    else:
        ax.plot([row["round"] for row in r], cum, style, color=COLORS[0], label=alg)
        ax.set_xlabel("round")
        integer_axis(ax)
        ax.set_ylabel("cumulative uplink payload")
        log_if_wide(ax, cum, "y")
        bytes_axis(ax, "y")
        caption = "Cumulative uplink bytes by round (network-only run: no accuracy)"
        name = "uplink_by_round.png"
    ax.legend(title="algorithm")
    ax.set_title(caption)
    return name, caption, to_png(fig)


def _latency_figure(data: RunData) -> Figure:
    dur = np.array([row["duration_s"] for row in data.rounds], dtype=float)
    rounds = np.array([row["round"] for row in data.rounds], dtype=float)
    fig, (a, b) = new_figure(**PAIR)
    index, width = _bins(rounds)
    if width == 1 and rounds.size <= FEW_BARS:
        a.bar(rounds, dur, color=COLORS[0])
    else:
        n_bins = int(index.max(initial=-1)) + 1
        mean = np.bincount(index, weights=dur, minlength=n_bins) / np.maximum(np.bincount(index, minlength=n_bins), 1)
        label = "per round" if width == 1 else f"mean of {width} rounds"
        a.stairs(mean, _edges(rounds, width), fill=True, color=COLORS[0], label=label)
    a.axhline(data.scn.round.deadline_s, color=COLORS[1], ls="--", label=f"deadline {data.scn.round.deadline_s:g} s")
    a.set_xlabel("round")
    integer_axis(a)
    a.set_ylabel("round latency [s]")
    a.set_ylim(0, 1.3 * max(float(dur.max(initial=0.0)), data.scn.round.deadline_s))
    a.set_title("Latency per round")
    a.legend(loc="upper right")
    xs = np.sort(dur)
    keep = thin(xs.size + 1, MAX_POINTS)
    steps = np.concatenate([[0.0], xs])[keep]
    b.step(steps, keep / max(xs.size, 1), where="post", color=COLORS[0])
    b.set_xlabel("round latency [s]")
    b.set_ylabel("fraction of rounds")
    b.set_ylim(0, 1.02)
    b.set_title("Latency CDF")
    return "latency.png", "Round latency (broadcast to close) and its CDF", to_png(fig)


def _k_figure(data: RunData) -> Figure | None:
    k = data.clients["k"]
    if not (k >= 0).any():
        return None
    sel = np.flatnonzero(k >= 0)
    fig, ax = new_figure(**ONE)
    clients = data.clients["client"][sel].astype(int)
    snr = data.clients["snr_db"][sel]
    if sel.size > MAX_POINTS:
        # Every client-round, as a density: a sample would hide the rare ones.
        kk = k[sel].astype(float)
        wide = kk.min() > 0 and kk.max() / kk.min() > 10 ** 1.5
        hb = ax.hexbin(snr, kk, gridsize=60, bins="log", mincnt=1, cmap="viridis", yscale="log" if wide else "linear")
        fig.colorbar(hb, ax=ax, label="client-rounds")
    elif data.scn.clients.count <= len(COLORS):
        for c in np.unique(clients):
            ax.scatter(snr[clients == c], k[sel][clients == c], s=16, color=COLORS[c], label=f"client {c}")
        ax.legend(fontsize=8, ncol=2)
    else:
        ax.scatter(snr, k[sel], s=10, color=COLORS[0], alpha=0.6, label="client-round")
        ax.legend()
    ax.set_xlabel("uplink SNR [dB]")
    ax.set_ylabel("Top-k per position")
    if sel.size <= MAX_POINTS:
        log_if_wide(ax, k[sel], "y")
    ax.set_title("Top-k chosen against the client's SNR")
    return "k_vs_snr.png", "Top-k per client-round against uplink SNR", to_png(fig)


def _airtime_energy_figure(data: RunData) -> Figure:
    n = data.scn.clients.count
    ids = np.arange(n)
    airtime, energy = _per_client(data, "airtime_s"), _per_client(data, "energy_j")
    fig, (a, b) = new_figure(**PAIR)
    for ax, values, label, color in ((a, airtime, "uplink airtime [s]", COLORS[0]), (b, energy, "energy [J]", COLORS[2])):
        if n <= 40:
            ax.bar(ids, values, color=color)
        elif n <= MAX_CLIENT_POINTS:
            ax.plot(ids, values, ".", color=color, ms=3)
        else:
            _quantile_band(ax, values, color)
        ax.set_xlabel("client")
        integer_axis(ax)
        ax.set_ylabel(label + ", all rounds")
    a.set_title("Uplink airtime per client")
    b.set_title("Energy per client (compute + transmit)")
    return "airtime_energy.png", "Uplink airtime and energy per client, summed over rounds", to_png(fig)


def _quantile_band(ax: Any, values: np.ndarray, color: str, bins: int = 200) -> None:
    """Median and 10-90 % band of ``values`` [clients] over ``bins`` equal bins of client ids."""
    edges = np.linspace(0, values.size, bins + 1).round().astype(np.int64)
    parts = [values[a:b] for a, b in zip(edges[:-1], edges[1:]) if b > a]
    q = np.array([np.quantile(p, [0.1, 0.5, 0.9]) for p in parts])
    mid = np.array([(a + b - 1) / 2 for a, b in zip(edges[:-1], edges[1:]) if b > a])
    ax.fill_between(mid, q[:, 0], q[:, 2], color=color, alpha=0.3, lw=0, label="10-90 % of clients")
    ax.plot(mid, q[:, 1], color=color, label=f"median per {values.size // len(parts)} clients")
    ax.legend(fontsize=8)


def _edges(rounds: np.ndarray, width: int) -> np.ndarray:
    """Bin edges [bins + 1] on the round axis for bins of ``width`` rounds (a single round centred)."""
    start = rounds[::width].astype(float)
    end = rounds[-1] + 1.0 if rounds.size else 0.0
    edges = np.concatenate([start, [end]])
    return edges - 0.5 if width == 1 else edges


def _outcome_figure(data: RunData) -> Figure:
    rounds = np.array([row["round"] for row in data.rounds], dtype=int)
    fig, ax = new_figure(**ONE)
    index, width = _bins(rounds)
    n_bins = int(index.max(initial=-1)) + 1
    # Client rows to their round's position: one pass over the rows, not one per round.
    client_rounds = data.clients["round"].astype(int)
    pos = np.searchsorted(rounds, client_rounds)
    valid = pos < rounds.size
    valid[valid] &= rounds[pos[valid]] == client_rounds[valid]
    bottom = np.zeros(n_bins)
    for j, o in enumerate(OUTCOMES):
        if o == "delivered":
            continue
        hit = valid & (data.clients["outcome"] == o)
        counts = np.bincount(index[pos[hit]], minlength=n_bins).astype(float)
        if counts.any():
            if n_bins <= FEW_BARS:
                ax.bar(rounds[::width], counts, width=width, align="edge" if width > 1 else "center", bottom=bottom,
                       color=COLORS[j], label=o)
            else:  # one artist per reason, not one per bar
                ax.stairs(bottom + counts, _edges(rounds, width), baseline=bottom.copy(), fill=True,
                          color=COLORS[j], label=o)
            bottom += counts
    ax.set_xlabel("round")
    integer_axis(ax)
    integer_axis(ax, "y")
    ax.set_ylabel("dropped clients" if width == 1 else f"dropped clients per {width} rounds")
    ax.set_ylim(0, max(1.0, float(bottom.max(initial=0))) * 1.35)  # headroom for the legend
    ax.set_title("Dropped clients per round, by reason")
    if bottom.any():
        ax.legend(title="reason", loc="upper center", ncol=4)
    else:
        ax.text(0.5, 0.5, "no client dropped", transform=ax.transAxes, ha="center", va="center")
    return "dropped.png", "Clients whose upload did not arrive, per round and reason", to_png(fig)


def _map_figure(data: RunData) -> Figure | None:
    from channels.hexgrid import hex_sites

    if data.xy_m is None or data.distance_2d_m is None:
        return None  # positions not recorded (an older run): no map rather than a radio rebuilt to draw one
    xy, dist = data.xy_m, data.distance_2d_m
    if xy.shape[0] != data.scn.clients.count:
        return None
    n = data.scn.clients.count
    first = data.clients["round"] == data.clients["round"].min(initial=0)
    # distance_m is to the serving site, which is not the origin in a multi-cell drop.
    # Only the round's participants have rows when clients are selected (or async).
    seen = data.clients["client"][first].astype(int)
    if not np.allclose(dist[seen], data.clients["distance_m"][first]):
        return None  # the records come from another version of the geometry; no map rather than a wrong one
    ids = data.clients["client"].astype(int)
    snr = np.bincount(ids, weights=data.clients["snr_db"], minlength=n) / np.maximum(np.bincount(ids, minlength=n), 1)
    fig, ax = new_figure(**MAP)
    if n > MAX_POINTS:
        # Mean SNR per hexagon: a marker per client would cover the cell many times over.
        sc = ax.hexbin(xy[:, 0], xy[:, 1], C=snr, reduce_C_function=np.mean, gridsize=50, cmap="viridis")
    else:
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=snr, cmap="viridis", s=40 if n <= 2000 else 6,
                        edgecolors="k" if n <= 2000 else "none", linewidths=0.4)
    p = data.scn.clients.placement
    sites = hex_sites(p.num_rings, p.isd_m) if p.kind == "hex_grid" else np.zeros((1, 2))
    ax.plot(sites[:, 0], sites[:, 1], marker="^", color=COLORS[1], ms=12, ls="", label="base station" if len(sites) == 1 else "base stations")
    if n <= 30:
        for i in range(n):
            ax.annotate(str(i), xy[i], textcoords="offset points", xytext=(4, 4), fontsize=8)
    fig.colorbar(sc, ax=ax, label="mean uplink SNR [dB]")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x [m]")
    ax.set_ylabel("y [m]")
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    ax.set_title("Cell map: clients coloured by SNR")
    return "cell_map.png", "Where the clients stand, coloured by their mean uplink SNR", to_png(fig)


def run_figures(data: RunData) -> list[Figure]:
    figs = [
        _uplink_figure(data),
        _latency_figure(data),
        _k_figure(data),
        _airtime_energy_figure(data),
        _outcome_figure(data),
        _map_figure(data),
    ]
    return [f for f in figs if f is not None]


def write_run_report(folder: Path, data: RunData | None = None, *, plots: bool = True) -> Path:
    """(Re)write ``report.md``, ``plots/*.png`` and ``report.html`` of a run folder; returns the HTML path.

    data : what the run holds (:func:`run_data`); None reads the folder's records.
    plots : False writes ``report.md`` alone (returned), as a sweep's points have it.
    """
    if data is None:
        data = load_run(folder)
    md = render_report(data.scn, data.result(), data.summary).rstrip("\n").split("\n")
    if not plots:
        atomic_write(folder / "report.md", "\n".join(md) + "\n")
        return folder / "report.md"
    if not data.clients and data.run_result is not None:  # a run in memory: its columns joined to be drawn
        data = dataclasses.replace(data, clients=client_data(data.run_result))
    figs = run_figures(data)
    md += ["", "## Plots", ""]
    images = {}
    for name, caption, png in figs:
        images[f"plots/{name}"] = png
        atomic_write(folder / "plots" / name, png)
        md += [f"![{caption}](plots/{name})", ""]
    text = "\n".join(md)
    atomic_write(folder / "report.md", text)
    title = f"fedwave run: {data.scn.workload.algorithm}, {data.scn.clients.count} clients"
    atomic_write(folder / "report.html", markdown_to_html(text, images, title))
    return folder / "report.html"
