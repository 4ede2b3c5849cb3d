"""Every record column in one place: its name, its meaning, and the builders of the rows.

(results.csv's ``SUMMARY_COLUMNS`` too: a sweep's table of its points, described in docs/records.md.)

The records' column names are a stable interface.  ``ROUND_DOC``,
``CLIENT_DOC`` and ``POSITION_DOC`` list them in the order they are written,
each with the meaning the tables of docs/records.md give (``tests/test_readme.py``
checks docs/records.md against :func:`markdown_table` word for word); the round
drivers build their rows with :func:`client_columns` and :func:`round_row`,
which take and give exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from sim.core.outcome import OUTCOMES

__all__ = [
    "ROUND_DOC", "CLIENT_DOC", "POSITION_DOC", "ROUND_COLUMNS", "CLIENT_COLUMNS", "ASYNC_CLIENT_COLUMNS",
    "POSITION_COLUMNS", "SUMMARY_COLUMNS", "OPTIONAL_INT", "RunResult", "markdown_table", "client_columns", "round_row",
]

V = TypeVar("V")
Doc = tuple[tuple[tuple[str, ...], str], ...]

# rounds.csv, one row per round (``eval_*``: the workload's metrics, after these).
ROUND_DOC: Doc = (
    (('round',), 'round index, from 0'),
    (('sim_time_s',), 'simulated time at the end of the round [s]'),
    (('duration_s',), "the round's length, broadcast to close (+ aggregation) [s]"),
    (('participants',), 'clients asked to take part'),
    (('delivered',), 'uploads that arrived complete before the deadline'),
    (('dropped',), 'participants whose upload did not arrive (any reason)'),
    (('uplink_bytes',), 'payload bytes of every upload that started (delivered or not)'),
    (('downlink_bytes',), 'downlink payload bytes addressed to the participants (one copy per participant, multicast or not: what the clients were to receive)'),
    (('cum_uplink_bytes',), '`uplink_bytes` summed up to this round'),
    (('airtime_s',), 'uplink airtime summed over clients, retransmissions included [s]'),
    (('energy_j',), 'client energy summed over clients [J]'),
    (('mean_k',), 'mean Top-k of the uploads that carry logits (empty otherwise)'),
    (('downlink_air_bytes',), 'bytes the downlink put on the air: each unicast and each multicast once, retransmissions included, a transfer cut at the deadline as far as it got'),
    (('downlink_airtime_s',), 'downlink time on the air, each unicast and each multicast once [s]'),
    (('eval_*',), "metrics of the workload's evaluation, when it evaluates"),
)
# clients.csv, one row per participating client per round (``staleness``: async runs only).
CLIENT_DOC: Doc = (
    (('round', 'client'), 'indices, from 0'),
    (('distance_m',), '2D ground distance to the base station [m]'),
    (('pathloss_db',), 'large-scale path loss [dB]'),
    (('snr_db',), 'uplink full-band SNR this round, fading included [dB]'),
    (('rate_bps',), 'uplink rate if the client had the whole band [bit/s]'),
    (('budget_bits',), 'what the link could deliver before the deadline when the client was ready [bit]'),
    (('k',), 'Top-k the upload carries (empty when it carries no logits)'),
    (('payload_bits',), 'encoded upload size [bit] (0 if nothing was sent)'),
    (('downlink_bits',), "what the server sent this client this round [bit] (the broadcast, or the client's own download when the algorithm defines one); received unless its outcome is `downlink_failure` or the deadline or going offline cut the download"),
    (('client_storage_bytes',), "bytes of the model the client holds, as stored: the full model's parameters in their dtype for the LoRA baselines; the quantised sub-LLM plus its fp32 LoRA for `fedsoda` (the bf16 sub-LLM plus its fp32 LoRA for `fedbiot`; the full model with the client's rank-r LoRA for `flexlora`); empty when the algorithm holds no model (`none`)"),
    (('airtime_s',), 'uplink time on the air, retransmissions included; cut at the deadline [s]'),
    (('attempts',), 'packet transmissions, retransmissions included'),
    (('delivered',), '1 if the upload arrived complete before the deadline'),
    (('compute_s',), 'local compute time this client needs this round [s]'),
    (('energy_j',), 'energy spent this round: compute, transmit (over the PA efficiency, plus circuit power), receive and idle (see the energy model) [J]'),
    (('outcome',), '`delivered`, `deadline` (not through by the deadline), `arq_failure`, `downlink_failure`, `skipped` (the algorithm chose not to send), `offline` (the client became unavailable mid-round; its partial airtime and energy are counted) or `stale` (async: the update was staler than `round.max_staleness` and dropped)'),
    (('downlink_airtime_s',), "time on the air of the transmission carrying this client's download (its unicast, or the multicast it listened to, shared with its group) [s]"),
    (('tx_power_dbm',), "the client's uplink transmit power this round [dBm]: `clients.tx_power_dbm`, or its open-loop power-control power"),
    (('staleness',), "async only (`round.mode: async`): model versions the server advanced between the client's download and its update's arrival; empty for a cycle that delivered nothing"),
)
# positions.csv, one row per client: where it stands when the run starts (the report's cell map).
POSITION_DOC: Doc = (
    (("client",), "index, from 0"),
    (("x_m", "y_m"), "position on the ground at the start of the run, the (first) base station at the origin [m]"),
    (("site",), "index of the serving cell (0 in a single cell; hex grid: the ring order of `channels.hexgrid.hex_sites`)"),
    (("distance_m",), "2D ground distance to the serving base station at the start [m] (clients.csv's first `distance_m`)"),
)


def _names(doc: Doc) -> tuple[str, ...]:
    return tuple(name for names, _ in doc for name in names if not name.endswith("*"))


ROUND_COLUMNS = _names(ROUND_DOC)
ASYNC_CLIENT_COLUMNS = _names(CLIENT_DOC)
# round.mode async adds the staleness of each update (sync records keep their columns and bytes).
CLIENT_COLUMNS = tuple(c for c in ASYNC_CLIENT_COLUMNS if c != "staleness")
POSITION_COLUMNS = _names(POSITION_DOC)
# results.csv of a sweep, after point_id, status and the swept keys: one summary per point.
SUMMARY_COLUMNS = (
    "algorithm",
    "rounds",
    "clients",
    "sim_time_s",
    "uplink_bytes_total",
    "downlink_bytes_total",
    "airtime_s_total",
    "energy_j_total",
    "delivered_total",
    "dropped_total",
    "delivery_ratio",
    "mean_snr_db",
    *(f"outcome_{o}" for o in OUTCOMES),
)
# Integer columns written empty where the value is negative (nothing to say).
OPTIONAL_INT = ("k", "client_storage_bytes", "staleness")


@dataclass
class RunResult:
    """What a run produced: one dict per round and per-client columns over all rounds."""

    rounds: list[dict[str, Any]] = field(default_factory=list)
    columns: tuple[str, ...] = CLIENT_COLUMNS
    clients: dict[str, list[np.ndarray]] = field(default_factory=dict)
    sim_time_s: float = 0.0

    def __post_init__(self) -> None:
        for c in self.columns:
            self.clients.setdefault(c, [])

    def client_column(self, name: str) -> np.ndarray:
        """One column over all rounds; ``outcome`` as names."""
        col = np.concatenate(self.clients[name]) if self.clients[name] else np.empty(0, dtype=np.int8)
        return np.asarray(OUTCOMES)[col] if name == "outcome" else col


def markdown_table(doc: Doc) -> str:
    """docs/records.md's table of one record: ``| column | meaning |`` and a row per entry."""
    rows = ["| column | meaning |", "|---|---|"]
    rows += ["| " + ", ".join(f"`{n}`" for n in names) + f" | {meaning} |" for names, meaning in doc]
    return "\n".join(rows)


def client_columns(values: dict[str, V], columns: tuple[str, ...]) -> dict[str, V]:
    """``values`` in the order of ``columns``; ValueError names a column missing or unknown."""
    missing = [c for c in columns if c not in values]
    unknown = [c for c in values if c not in columns]
    if missing or unknown:
        raise ValueError(f"client columns: missing {missing}, unknown {unknown}")
    return {c: values[c] for c in columns}


def round_row(r: int, now_s: float, duration_s: float, participants: int, delivered: np.ndarray,
              payload_bits: np.ndarray, down_bits: np.ndarray, airtime_s: np.ndarray, energy_j: np.ndarray,
              k: np.ndarray, earlier: list[dict[str, Any]], metrics: dict[str, float], *,
              down_air_bits: float, down_airtime_s: float) -> dict[str, Any]:
    """One rounds.csv row from the round's per-participant arrays (``k`` < 0: no k) and its metrics.

    down_air_bits, down_airtime_s : what the downlink put on the air this round
        (each unicast and each multicast once, retransmissions included) [bit], [s]
    """
    ks = k[k >= 0]
    up_bytes = int(payload_bits.sum()) // 8
    prev = earlier[-1]["cum_uplink_bytes"] if earlier else 0
    values: dict[str, Any] = {
        "round": r,
        "sim_time_s": now_s,
        "duration_s": duration_s,
        "participants": participants,
        "delivered": int(delivered.sum()),
        "dropped": int(participants - delivered.sum()),
        "uplink_bytes": up_bytes,
        "downlink_bytes": int(down_bits.sum()) // 8,
        "cum_uplink_bytes": prev + up_bytes,
        "airtime_s": float(airtime_s.sum()),
        "energy_j": float(energy_j.sum()),
        "mean_k": float(ks.mean()) if ks.size else float("nan"),
        "downlink_air_bytes": int(down_air_bits) // 8,
        "downlink_airtime_s": down_airtime_s,
    }
    row = client_columns(values, ROUND_COLUMNS)
    bad = [name for name in metrics if not name.startswith("eval_")]
    if bad:
        # An unprefixed name could overwrite an engine column such as delivered.
        raise ValueError(f"evaluate() metric names must start with 'eval_', got {bad}")
    row.update({name: float(v) for name, v in metrics.items()})
    return row
