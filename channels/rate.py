"""Rate models: SNR -> achievable bit rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["RateModel", "ShannonRate", "TimeShare", "combined_bler", "chase_error_rates", "tdd_shares", "NR_MAX_SE_BPS_HZ", "TDD_SPECIAL_SYMBOLS"]

# The special slot of a TDD pattern, (downlink, guard, uplink) OFDM symbols of 14:
# 10:2:2, the format commonly configured with DDDSU in n78 (3.5 GHz).
TDD_SPECIAL_SYMBOLS = (10, 2, 2)

# TS 38.214 V17 Table 5.1.3.1-2 (MCS index table 2), MCS 27: 256-QAM (Qm = 8) at
# code rate 948/1024, the highest spectral efficiency NR's PDSCH/PUSCH tables list.
NR_MAX_SE_BPS_HZ = 8 * 948 / 1024


class RateModel(Protocol):
    """What the channel and the medium need of a rate model; SNRs are linear, any shape."""

    def spectral_efficiency(self, snr_linear: np.ndarray) -> np.ndarray: ...

    def rate_bps(self, snr_linear: np.ndarray, bandwidth_hz: float | np.ndarray) -> np.ndarray: ...

    def block_error_rate(self, snr_linear: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ShannonRate:
    """r = B log2(1 + SNR_eff / Gamma), optionally capped at B * max_se.

    gap_db : SNR gap Gamma to capacity [dB] (0 = capacity)
    max_se_bps_hz : spectral-efficiency cap [bit/s/Hz], None = uncapped
    snr_ceiling_db : implementation SNR ceiling [dB] (transmitter EVM, phase
        noise): SNR_eff = 1 / (1 / SNR + 1 / SNR_ceiling), the receiver's SNR
        with a distortion floor of power SNR_ceiling below the signal; None = off
    """

    gap_db: float = 0.0
    max_se_bps_hz: float | None = None
    snr_ceiling_db: float | None = None

    @property
    def gap_linear(self) -> float:
        return float(10.0 ** (self.gap_db / 10.0))

    def spectral_efficiency(self, snr_linear: np.ndarray) -> np.ndarray:
        """[bit/s/Hz] for linear SNR values of any shape."""
        snr = np.asarray(snr_linear, dtype=float)
        if self.snr_ceiling_db is not None:
            snr = snr / (1.0 + snr * 10.0 ** (-self.snr_ceiling_db / 10.0))
        se = np.log2(1.0 + (snr if self.gap_db == 0.0 else snr / self.gap_linear))
        return se if self.max_se_bps_hz is None else np.minimum(se, self.max_se_bps_hz)

    def rate_bps(self, snr_linear: np.ndarray, bandwidth_hz: float | np.ndarray) -> np.ndarray:
        """[bit/s] over ``bandwidth_hz``."""
        return np.asarray(bandwidth_hz) * self.spectral_efficiency(snr_linear)

    def block_error_rate(self, snr_linear: np.ndarray) -> np.ndarray:
        """Zero: a rate at (or a gap below) capacity is taken as error-free."""
        return np.zeros(np.shape(snr_linear))

    def combined_bler(self, snr_linear: float, attempts: int) -> np.ndarray:
        """[attempts] zeros: nothing to combine on an error-free link."""
        return np.zeros(attempts)


def combined_bler(model: RateModel, snr_linear: float, attempts: int) -> np.ndarray:
    """[attempts] block error rate after chase-combining k = 1 .. attempts copies sent at ``snr_linear``.

    A model without its own ``combined_bler`` takes the block error rate at k
    times the SNR (a code whose error rate depends only on the SNR).
    """
    own = getattr(model, "combined_bler", None)
    if own is not None:
        return np.asarray(own(snr_linear, attempts), dtype=float)
    return np.asarray(model.block_error_rate(snr_linear * np.arange(1, attempts + 1)), dtype=float)


def chase_error_rates(combined: np.ndarray, extra_loss: float) -> np.ndarray:
    """[M] P(try k fails | tries 1 .. k-1 failed) from the BLER after k combined copies, k = 1 .. M."""
    bler = np.clip(np.asarray(combined, dtype=float), 0.0, 1.0)
    before = np.concatenate([[1.0], bler[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        block = np.where(before > 0.0, np.minimum(bler / before, 1.0), 0.0)
    return 1.0 - (1.0 - block) * (1.0 - extra_loss)


def tdd_shares(pattern: str, special: tuple[int, int, int] = TDD_SPECIAL_SYMBOLS) -> tuple[float, float]:
    """(uplink, downlink) share of time of a TDD slot pattern such as ``"DDDSU"``.

    D slots are downlink, U uplink, S special: ``special`` (downlink, guard,
    uplink) symbols of 14.  DDDSU with 10:2:2 gives (1 + 2/14) / 5 = 0.229 up
    and (3 + 10/14) / 5 = 0.743 down.
    """
    if not pattern or set(pattern) - set("DSU"):
        raise ValueError(f"TDD pattern must be a string of D, S and U, got {pattern!r}")
    s_dl, _, s_ul = special
    n = len(pattern)
    up = (pattern.count("U") + pattern.count("S") * s_ul / 14.0) / n
    down = (pattern.count("D") + pattern.count("S") * s_dl / 14.0) / n
    return up, down


class TimeShare:
    """A rate model on a direction that holds the band only a share of the time (TDD).

    The SNR (and the block error rate) is that of the slots it has, at full
    power; the rate, averaged over the frame, is ``share`` times the inner model's.
    """

    def __init__(self, inner: RateModel, share: float) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError(f"time share must be in (0, 1], got {share}")
        self.inner, self.share = inner, share
        self.gap_linear = float(getattr(inner, "gap_linear", 1.0))

    def spectral_efficiency(self, snr_linear: np.ndarray) -> np.ndarray:
        return self.share * self.inner.spectral_efficiency(snr_linear)

    def rate_bps(self, snr_linear: np.ndarray, bandwidth_hz: float | np.ndarray) -> np.ndarray:
        return self.share * self.inner.rate_bps(snr_linear, bandwidth_hz)

    def block_error_rate(self, snr_linear: np.ndarray) -> np.ndarray:
        return self.inner.block_error_rate(snr_linear)

    def combined_bler(self, snr_linear: float, attempts: int) -> np.ndarray:
        return combined_bler(self.inner, snr_linear, attempts)

    def tb_bits(self, snr_linear: float) -> int:
        return int(self.inner.tb_bits(snr_linear))  # type: ignore[attr-defined]
