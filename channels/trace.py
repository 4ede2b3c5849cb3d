"""Channel traces: replay measured SNRs, and export a run's channel as a trace.

A trace is a CSV with a header and one row per sample:

    time_s,client,snr_db[,snr_dl_db]

``snr_db`` is the full-band SNR [dB] (fading included) of the client's
uplink; ``snr_dl_db``, when present, the downlink's (else the uplink value
serves both).  Samples hold until the client's next one (sample and hold);
before its first sample a client has its first value.  Clients are 0 .. n-1
and each needs at least one sample.  An exported trace replays the same
channel exactly, so several algorithms (or other tools) can be fed one
channel.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SnrTrace", "read_trace", "trace_csv"]


@dataclass(frozen=True)
class SnrTrace:
    """Dense sample-and-hold SNRs.

    times_s : [m] increasing sample times [s]
    snr_ul_db, snr_dl_db : [m, num_clients] SNR in force from each time on [dB]
    """

    times_s: np.ndarray
    snr_ul_db: np.ndarray
    snr_dl_db: np.ndarray

    def at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(uplink, downlink) [num_clients] SNRs in force at ``t_s`` [dB]."""
        # A tiny tolerance: exported times come back through decimal text.
        k = max(int(np.searchsorted(self.times_s, t_s + 1e-9 * max(1.0, abs(t_s)), side="right")) - 1, 0)
        return self.snr_ul_db[k], self.snr_dl_db[k]


def _ffill(rows: np.ndarray) -> np.ndarray:
    """Fill NaNs down each column from the last value, and up from the first."""
    out = rows.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        have = np.flatnonzero(~np.isnan(col))
        idx = np.maximum.accumulate(np.where(~np.isnan(col), np.arange(col.size), 0))
        idx[: have[0]] = have[0]
        out[:, j] = col[idx]
    return out


# Beyond this an SNR is no measurement, and 10^(snr/10) overflows a float.
TRACE_SNR_LIMIT_DB = 300.0
MAX_TRACE_BYTES = 256 << 20


def _open_trace(path: str | Path) -> io.TextIOWrapper:
    import stat

    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a regular file")
    if info.st_size > MAX_TRACE_BYTES:
        raise ValueError(f"{path}: {info.st_size} bytes; a trace may have at most {MAX_TRACE_BYTES}")
    try:
        return open(path, newline="", encoding="utf-8")
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None


def read_trace(path: str | Path, num_clients: int) -> SnrTrace:
    """Read a trace CSV for clients 0 .. num_clients - 1; ValueError names the problem."""
    try:
        with _open_trace(path) as f:
            samples = _samples(path, f, num_clients)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (invalid UTF-8)") from None
    except csv.Error as err:
        raise ValueError(f"{path}: not a CSV file ({err})") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot read ({err.strerror})") from None
    return _dense(path, samples, num_clients)


def _samples(path: str | Path, f: io.TextIOWrapper, num_clients: int) -> list[tuple[float, int, float, float]]:
    reader = csv.DictReader(f)
    fields = reader.fieldnames or []
    missing = {"time_s", "client", "snr_db"} - set(fields)
    if missing:
        raise ValueError(f"{path}: trace needs columns time_s, client, snr_db (missing {', '.join(sorted(missing))})")
    has_dl = "snr_dl_db" in fields
    samples = []
    first_line: dict[tuple[float, int], int] = {}
    for line, row in enumerate(reader, start=2):
        try:
            t, c = float(row["time_s"]), int(row["client"])
            ul = float(row["snr_db"])
            dl = float(row["snr_dl_db"]) if has_dl else ul
        except (TypeError, ValueError):
            shown = ",".join(str(v) for v in row.values())
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise ValueError(f"{path}:{line}: not a number in {shown!r}") from None
        if not (np.isfinite(t) and np.isfinite(ul) and np.isfinite(dl)) or not 0 <= c < num_clients:
            raise ValueError(f"{path}:{line}: time and SNRs must be finite and client in 0..{num_clients - 1}")
        if max(abs(ul), abs(dl)) > TRACE_SNR_LIMIT_DB:
            raise ValueError(f"{path}:{line}: SNR must be within +-{TRACE_SNR_LIMIT_DB:g} dB (got {max(ul, dl, key=abs):g})")
        if (t, c) in first_line:
            raise ValueError(f"{path}:{line}: duplicate sample of client {c} at time {t:g} (first at line {first_line[t, c]})")
        first_line[t, c] = line
        samples.append((t, c, ul, dl))
    return samples


def _dense(path: str | Path, samples: list[tuple[float, int, float, float]], num_clients: int) -> SnrTrace:
    if not samples:
        raise ValueError(f"{path}: trace has no samples")
    arr = np.array(samples)
    times = np.unique(arr[:, 0])
    clients = arr[:, 1].astype(int)
    absent = sorted(set(range(num_clients)) - set(clients.tolist()))
    if absent:
        raise ValueError(f"{path}: no samples for client {absent[0]} ({len(absent)} clients missing)")
    ul_rows = np.full((times.size, num_clients), np.nan)
    dl_rows = np.full((times.size, num_clients), np.nan)
    k = np.searchsorted(times, arr[:, 0])
    ul_rows[k, clients] = arr[:, 2]
    dl_rows[k, clients] = arr[:, 3]
    return SnrTrace(times, _ffill(ul_rows), _ffill(dl_rows))


def trace_csv(history: list[tuple[float, np.ndarray, np.ndarray]]) -> str:
    """A trace CSV of ``(time_s, snr_ul_db[n], snr_dl_db[n])`` draws, shortest round-trip floats."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time_s", "client", "snr_db", "snr_dl_db"])
    for t, ul, dl in history:
        for c in range(ul.shape[0]):
            w.writerow([float(t), c, float(ul[c]), float(dl[c])])
    return buf.getvalue()
