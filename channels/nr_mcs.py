"""5G NR rate model: link adaptation and block error rate from Sionna's PHY abstraction.

For each SNR, Sionna's inner-loop link adaptation
(:class:`sionna.sys.InnerLoopLinkAdaptation`) picks the highest MCS whose
transport-block error rate (TBLER) stays at or below a BLER target, and
:class:`sionna.sys.PHYAbstraction` gives that MCS's TBLER from its
precomputed AWGN BLER tables (TS 38.214 MCS tables, LDPC per TS 38.212).
The spectral efficiency is the MCS's modulation order times its code rate
(:class:`sionna.phy.nr.utils.MCSDecoderNR`).

Sionna reads its BLER tables on an SNR grid (nearest grid point, -5 .. 30 dB,
0.1 dB steps by default).  Calling it for every client at every draw would
put torch on the per-round path, so :func:`sionna_mcs_table` asks Sionna once
for every grid point, and :class:`NrMcsRate` looks the grid up with the same
nearest-point rule in numpy: the same answers, at numpy speed.  Below the grid
the lowest MCS is used and its TBLER (about 1) makes ARQ fail, as it should.

No MCS may carry more than capacity: wherever the chosen MCS's spectral
efficiency exceeds log2(1 + SNR) at the actual SNR (only ever the lowest
MCS, below its threshold), the rate is 0 and the TBLER 1 (no code gets
through above capacity), and a table whose link adaptation meets its BLER
target above capacity is refused when it is built.

Uplink MCS table 2 (256-QAM) uses Sionna's PDSCH BLER data: TS 38.214
6.1.4.1 has PUSCH without transform precoding use the same Table 5.1.3.1-2
as the PDSCH, and an LDPC code's AWGN BLER at one MCS does not depend on the
direction; Sionna's PUSCH table-2 data put their 10% BLER points 6-8 dB
beyond the Shannon limit (2.73 bit/s/Hz at 0 dB, where capacity is 1), so
they are not used.  Sionna's BLER tables start at MCS 3 (table 1) and MCS 2
(table 2): coverage ends about 3 dB short of MCS 0's threshold, where the
lowest available MCS's TBLER rises to 1.

Modelling choices: the SNR stands for the effective SINR of a flat channel
(one fading gain per client per draw, so the EESM is the identity); the rate
is the PHY rate B * Qm * R, before reference-signal and control overhead; the
TBLER is the loss probability of one fedwave packet (a packet stands for a
transport block).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["McsTable", "NrMcsRate", "sionna_mcs_table", "check_capacity", "DIRECTIONS"]

# Sionna's MCS categories: 0 = PUSCH (uplink), 1 = PDSCH (downlink).
DIRECTIONS = {"uplink": 0, "downlink": 1}


@dataclass(frozen=True)
class McsTable:
    """Link adaptation on an SNR grid; arrays are [num_grid_points].

    snr_db_min, snr_db_step : the grid is snr_db_min + i * snr_db_step [dB]
    mcs : MCS index chosen at each grid point
    se_bps_hz : spectral efficiency Qm * R of that MCS [bit/s/Hz]
    tbler : transport-block error rate of that MCS at that SNR
    tbler_by_mcs : [num_mcs, num_grid_points] TBLER of every MCS at every grid
        point (1 where the BLER data have no entry), for HARQ chase combining;
        None = not computed
    tb_bits_by_mcs : [num_mcs] transport-block size of every MCS on the table's
        resource elements (TS 38.214 5.1.3.2, Sionna's ``calculate_tb_size``) [bit]
    """

    snr_db_min: float
    snr_db_step: float
    mcs: np.ndarray
    se_bps_hz: np.ndarray
    tbler: np.ndarray
    tbler_by_mcs: np.ndarray | None = None
    tb_bits_by_mcs: np.ndarray | None = None

    def index(self, snr_linear: np.ndarray | float) -> np.ndarray:
        """Nearest grid point of each SNR, clamped to the grid (Sionna's rule)."""
        snr_db = 10.0 * np.log10(np.maximum(np.asarray(snr_linear, dtype=float), 1e-30))
        idx = np.rint((snr_db - self.snr_db_min) / self.snr_db_step)
        return np.clip(idx, 0, self.mcs.shape[0] - 1).astype(np.intp)


@functools.lru_cache(maxsize=1)
def _sionna_phy() -> Any:
    """One PHYAbstraction per process: interpolating its BLER tables takes about a second."""
    from sionna.sys import PHYAbstraction

    return PHYAbstraction()


@functools.lru_cache(maxsize=16)
def sionna_mcs_table(direction: str, mcs_table: int, bler_target: float, allocated_re: int) -> McsTable:
    """Ask Sionna for link adaptation and TBLER at every point of its SNR grid.

    direction : "uplink" (PUSCH) or "downlink" (PDSCH)
    mcs_table : TS 38.214 MCS table index (1: up to 64-QAM, 2: up to 256-QAM)
    bler_target : TBLER that link adaptation must not exceed
    allocated_re : resource elements of one transport block (sets its code-block size)

    Imports torch and Sionna (a few seconds, once per process).
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not 0.0 < bler_target < 1.0:
        raise ValueError(f"bler_target must be in (0, 1), got {bler_target}")
    import torch
    from sionna.phy.nr.utils import MCSDecoderNR
    from sionna.sys import InnerLoopLinkAdaptation

    phy = _sionna_phy()
    lo, hi, step = phy.snr_db_interp_min_max_delta
    snr_db = lo + step * torch.arange(int(round((hi - lo) / step)) + 1, dtype=torch.float64)
    sinr = (10.0 ** (snr_db / 10.0)).to(torch.float32)
    re = torch.full(sinr.shape, allocated_re, dtype=torch.int32)
    category = DIRECTIONS[direction]
    # Same MCS table, same LDPC code, same AWGN BLER (module docstring): not Sionna's PUSCH table-2 data.
    data_category = DIRECTIONS["downlink"] if mcs_table == 2 else category
    illa = InnerLoopLinkAdaptation(phy, bler_target=bler_target)
    with torch.no_grad():
        mcs = illa(sinr_eff=sinr, num_allocated_re=re, mcs_table_index=mcs_table, mcs_category=data_category)
        _, _, _, tbler, _ = phy(
            mcs, sinr_eff=sinr, num_allocated_re=re, mcs_table_index=mcs_table, mcs_category=data_category
        )
        qm, rate = MCSDecoderNR()(mcs, torch.full_like(mcs, mcs_table), torch.full_like(mcs, category))
        # Every MCS at every SNR, for the TBLER after chase combining (MCS 0-2 have no data: inf -> 1).
        by_mcs = [
            phy(
                torch.full_like(mcs, m), sinr_eff=sinr, num_allocated_re=re, mcs_table_index=mcs_table,
                mcs_category=data_category,
            )[3].to(torch.float64).numpy()
            for m in range(int(mcs.max()) + 1)
        ]
    # The transport block the BLER tables are for: allocated_re resource elements at each MCS.
    from sionna.phy.nr.utils import calculate_tb_size

    num_mcs = 29 if mcs_table == 1 else 28  # TS 38.214 Tables 5.1.3.1-1 and -2: MCS 0-28 and 0-27
    all_mcs = torch.arange(num_mcs, dtype=torch.int32)
    qm_all, r_all = MCSDecoderNR()(all_mcs, torch.full_like(all_mcs, mcs_table), torch.full_like(all_mcs, category))
    tb_bits = np.array([
        int(calculate_tb_size(int(q), float(r), num_coded_bits=int(q) * allocated_re, return_cw_length=False)[0])
        for q, r in zip(qm_all.tolist(), r_all.tolist())
    ], dtype=np.int64)
    table = McsTable(
        snr_db_min=float(lo),
        snr_db_step=float(step),
        mcs=mcs.numpy().astype(np.int64),
        se_bps_hz=(qm.to(torch.float64) * rate.to(torch.float64)).numpy(),
        tbler=np.clip(tbler.to(torch.float64).numpy(), 0.0, 1.0),
        tbler_by_mcs=np.clip(np.nan_to_num(np.array(by_mcs), nan=1.0, posinf=1.0), 0.0, 1.0),
        tb_bits_by_mcs=tb_bits,
    )
    check_capacity(table, bler_target, f"{direction} MCS table {mcs_table}")
    return table


def check_capacity(table: McsTable, bler_target: float, name: str) -> None:
    """Refuse link adaptation that meets its BLER target above Shannon capacity.

    Raises ValueError naming the first grid point where an MCS with TBLER at or
    below ``bler_target`` has a spectral efficiency above log2(1 + SNR): BLER
    data that promise that are wrong, whatever library they come from.
    """
    snr_db = table.snr_db_min + table.snr_db_step * np.arange(table.mcs.shape[0])
    capacity = np.log2(1.0 + 10.0 ** (snr_db / 10.0))
    bad = np.flatnonzero((table.se_bps_hz > capacity) & (table.tbler <= bler_target))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}: MCS {int(table.mcs[i])} ({table.se_bps_hz[i]:.3f} bit/s/Hz) meets the BLER target "
            f"{bler_target} at {snr_db[i]:.1f} dB, where capacity is {capacity[i]:.3f} bit/s/Hz: "
            "its BLER data are beyond the Shannon limit"
        )


class NrMcsRate:
    """r = B * SE(MCS(SNR)); packet loss = TBLER(MCS(SNR), SNR).

    table : link adaptation on an SNR grid, normally :func:`sionna_mcs_table`
    """

    def __init__(self, table: McsTable) -> None:
        self.table = table

    @classmethod
    def from_sionna(
        cls, direction: str, mcs_table: int = 1, bler_target: float = 0.1, allocated_re: int = 1728
    ) -> NrMcsRate:
        return cls(sionna_mcs_table(direction, mcs_table, bler_target, allocated_re))

    def mcs_index(self, snr_linear: np.ndarray | float) -> np.ndarray:
        return self.table.mcs[self.table.index(snr_linear)]

    def spectral_efficiency(self, snr_linear: np.ndarray | float) -> np.ndarray:
        """[bit/s/Hz] of the MCS link adaptation picks at each SNR; 0 where it would exceed capacity."""
        se = self.table.se_bps_hz[self.table.index(snr_linear)]
        return np.where(se <= np.log2(1.0 + np.asarray(snr_linear, dtype=float)), se, 0.0)

    def rate_bps(self, snr_linear: np.ndarray | float, bandwidth_hz: float | np.ndarray) -> np.ndarray:
        return np.asarray(bandwidth_hz) * self.spectral_efficiency(snr_linear)

    def tb_bits(self, snr_linear: float) -> int:
        """Transport-block size of the MCS chosen at ``snr_linear`` [bit]: the packet its TBLER is for."""
        if self.table.tb_bits_by_mcs is None:
            raise ValueError("this MCS table has no transport-block sizes (tb_bits_by_mcs)")
        return int(self.table.tb_bits_by_mcs[int(self.mcs_index(snr_linear))])

    def combined_bler(self, snr_linear: float, attempts: int) -> np.ndarray:
        """[attempts] TBLER after chase-combining k = 1 .. attempts copies sent at ``snr_linear``.

        The MCS is the one link adaptation picks at ``snr_linear``; copy k is
        decoded at k times that SNR (maximum-ratio combining of identical
        copies).  1 throughout where that MCS is above capacity at the SNR.
        """
        tab = self.table
        if tab.tbler_by_mcs is None:
            raise ValueError("this MCS table has no per-MCS BLER curves (tbler_by_mcs) for chase combining")
        g = int(tab.index(snr_linear))
        if tab.se_bps_hz[g] > np.log2(1.0 + snr_linear):
            return np.ones(attempts)
        k = np.arange(1, attempts + 1)
        return tab.tbler_by_mcs[tab.mcs[g], tab.index(k * snr_linear)]

    def block_error_rate(self, snr_linear: np.ndarray | float) -> np.ndarray:
        """TBLER of the chosen MCS at each SNR; 1 where its rate would exceed capacity."""
        se = self.table.se_bps_hz[self.table.index(snr_linear)]
        tbler = self.table.tbler[self.table.index(snr_linear)]
        return np.where(se <= np.log2(1.0 + np.asarray(snr_linear, dtype=float)), tbler, 1.0)
