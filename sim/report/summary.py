"""report.md: a first communication-cost summary of one run."""

from __future__ import annotations

from typing import Any

import numpy as np

from channels.hexgrid import site_count
from sim.core.columns import RunResult
from sim.core.outcome import OUTCOMES
from sim.config.scenario import Scenario

__all__ = ["render_report", "MAX_TABLE_ROUNDS"]

# A report is read, not searched: past this many rounds the table shows an even sample.
MAX_TABLE_ROUNDS = 200


def _thin(n: int, limit: int) -> list[int]:
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000.0
    return f"{n:.2f} TB"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def cell_count(scn: Scenario) -> int:
    """Cells of the run: one, or every site of a hex grid."""
    p = scn.clients.placement
    return site_count(p.num_rings) if p.kind == "hex_grid" else 1


def _spectrum_note(scn: Scenario, summary: dict[str, Any]) -> list[str]:
    """A hex grid without interference gives every cell its own band: say how much spectrum that is."""
    p = scn.clients.placement
    if p.kind != "hex_grid" or scn.channel.interference != "none" or "spectrum_mhz" not in summary:
        return []
    return [
        f"Hex grid without interference: each cell has its own orthogonal {scn.cell.bandwidth_mhz:g} MHz band "
        f"(reuse at the full band per cell), {summary['spectrum_mhz']:g} MHz of spectrum in all, up and down; "
        "set `channel.interference: full_load` for reuse 1.",
        "",
    ]


def _prb_note(scn: Scenario, summary: dict[str, Any]) -> list[str]:
    """More uplink sharers than PRBs: say what the minimum allocation did (or that there was none)."""
    prbs, most = summary.get("uplink_prbs"), summary.get("max_participants")
    if prbs is None or most is None or scn.medium.uplink_sharing == "tdma":
        return []
    if most <= prbs * cell_count(scn):
        return []
    prb_khz = 12 * scn.cell.scs_khz
    prb = scn.medium.min_allocation == "prb"
    fluid = "fluid shares narrower than one PRB were used as they are (`medium.min_allocation: none`)."
    if prbs == 0:
        what = "clients time-share it, each spreading its power over the whole band (`medium.min_allocation: prb`)."
        return [f"The uplink band ({scn.cell.bandwidth_mhz * 1e3:g} kHz) is narrower than one PRB of {prb_khz:g} kHz "
                f"and up to {most} clients shared it: {what if prb else fluid}", ""]
    what = (f"each client concentrated its power in one PRB at most and the {prbs} PRBs were time-shared "
            "(`medium.min_allocation: prb`).") if prb else fluid
    return [f"Up to {most} clients shared {prbs} uplink PRBs of {prb_khz:g} kHz per cell: {what}", ""]


def render_report(scn: Scenario, result: RunResult, summary: dict[str, Any]) -> str:
    ch = scn.channel
    snr_src = f"fixed at {ch.snr_db} dB" if ch.snr_db is not None else f"{ch.pathloss.model} path loss from geometry"
    out = [
        f"# fedwave run: {scn.workload.algorithm}, {scn.clients.count} clients, {scn.rounds} rounds",
        "",
        f"Seed {scn.seed}; {scn.cell.bandwidth_mhz:g} MHz at {scn.cell.carrier_ghz:g} GHz; mean SNR {snr_src}; "
        f"{ch.fading.model} fading; uplink sharing {scn.medium.uplink_sharing}; deadline {scn.round.deadline_s:g} s.",
        "",
        *(_spectrum_note(scn, summary)),
        *(_prb_note(scn, summary)),
        "## Totals",
        "",
        _table(
            ["quantity", "value"],
            [
                ["uplink payload", _fmt_bytes(summary["uplink_bytes_total"])],
                ["downlink payload", _fmt_bytes(summary["downlink_bytes_total"])],
                *(
                    [["downlink on the air (retransmissions in, a multicast once)",
                      _fmt_bytes(summary["downlink_air_bytes_total"])]]
                    if "downlink_air_bytes_total" in summary else []
                ),
                ["uplink airtime (sum over clients)", f"{summary['airtime_s_total']:.3f} s"],
                ["client energy", f"{summary['energy_j_total']:.3f} J"],
                ["simulated time", f"{summary['sim_time_s']:.3f} s"],
                ["uploads delivered", f"{summary['delivered_total']} of {len(result.client_column('delivered'))}"],
            ],
        ),
        "",
        "## Outcomes of client uploads",
        "",
        _table(["outcome", "count"], [[o, summary["outcomes"].get(o, 0)] for o in OUTCOMES]),
        "",
    ]
    snr = result.client_column("snr_db")
    delivered = result.client_column("delivered")
    airtime = result.client_column("airtime_s")
    if snr.size:
        edges = np.quantile(snr, [0, 0.25, 0.5, 0.75, 1.0])
        bins = np.clip(np.searchsorted(edges[1:-1], snr, side="right"), 0, 3)
        rows = []
        for q in range(4):
            sel = bins == q
            if sel.any():
                rows.append(
                    [
                        f"Q{q + 1}",
                        f"{snr[sel].min():.1f} .. {snr[sel].max():.1f}",
                        f"{100 * delivered[sel].mean():.1f}%",
                        f"{airtime[sel].mean():.4f}",
                    ]
                )
        out += [
            "## Delivery by uplink SNR quartile (client-rounds)",
            "",
            _table(["quartile", "SNR range [dB]", "delivered", "mean airtime [s]"], rows),
            "",
        ]
    metric_cols = [k for k in (result.rounds[0] if result.rounds else {}) if k.startswith("eval_")]
    header = ["round", "sim time [s]", "delivered", "dropped", "uplink", "airtime [s]", "mean k", *metric_cols]
    rows = []
    shown = _thin(len(result.rounds), MAX_TABLE_ROUNDS)
    for r in (result.rounds[i] for i in shown):
        mean_k = "" if np.isnan(r["mean_k"]) else f"{r['mean_k']:.1f}"
        rows.append(
            [
                r["round"],
                f"{r['sim_time_s']:.3f}",
                r["delivered"],
                r["dropped"],
                _fmt_bytes(r["uplink_bytes"]),
                f"{r['airtime_s']:.3f}",
                mean_k,
                *(f"{r[m]:.4f}" for m in metric_cols),
            ]
        )
    note = [] if len(shown) == len(result.rounds) else [
        f"{len(shown)} of {len(result.rounds)} rounds shown, evenly spaced (first and last included); every round is in `rounds.csv`.",
        "",
    ]
    out += ["## Rounds", "", *note, _table(header, rows), ""]
    if scn.clients.per_round is not None or scn.clients.availability != "always" or scn.round.mode == "async":
        from sim.report.participation import participation_sections

        out += participation_sections(scn, result)
    out += [
        "Files beside this report: `rounds.csv` (one row per round), `clients.csv` (one row per client per "
        "round), `summary.json`, `scenario.resolved.yaml` (rerun with `fedwave run scenario.resolved.yaml`).",
        "",
    ]
    return "\n".join(out)
