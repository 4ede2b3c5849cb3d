"""Rate models: SNR -> achievable bit rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["RateModel", "ShannonRate", "NR_MAX_SE_BPS_HZ"]

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
