"""The channel seam: what each client's link can carry at simulated time t."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import math

from channels.fading import Fading, coherence_time_s
from channels.gilbert_elliott import GilbertElliott
from channels.pathloss import SPEED_OF_LIGHT_M_S
from channels.rate import RateModel
from channels.trace import SnrTrace

__all__ = ["LinkState", "Channel", "thermal_noise_dbm", "dbm_to_w", "MAX_BLOCKS_PER_ROUND"]

# Coherence blocks a round is cut into at most: past this, blocks are stretched
# to deadline / MAX_BLOCKS_PER_ROUND (see Channel.block_ratios).
MAX_BLOCKS_PER_ROUND = 1024


def thermal_noise_dbm(bandwidth_hz: float, noise_figure_db: float) -> float:
    """-174 dBm/Hz + 10 log10(B) + NF [dBm]."""
    return -174.0 + 10.0 * np.log10(bandwidth_hz) + noise_figure_db


def dbm_to_w(power_dbm: float | np.ndarray) -> np.ndarray:
    return 10.0 ** ((np.asarray(power_dbm) - 30.0) / 10.0)


@dataclass(frozen=True)
class LinkState:
    """One direction of every client's link at one instant; arrays are [num_clients].

    snr_db : full-band SNR after fading [dB]
    rate_bps : rate if the client had the whole band [bit/s]
    bler : probability that one packet transmission fails at the full-band SNR
    extra_loss : the part of ``bler`` that does not depend on the SNR (fixed
        packet error rate, Gilbert-Elliott bursts); a medium that gives the
        client a sub-band recomputes the block error rate at that band's SNR
        and combines it with this
    latency_s : one-way propagation delay [s]
    bandwidth_hz : the band this state refers to [Hz]
    """

    snr_db: np.ndarray
    rate_bps: np.ndarray
    bler: np.ndarray
    extra_loss: np.ndarray
    latency_s: np.ndarray
    bandwidth_hz: float

    @property
    def snr_linear(self) -> np.ndarray:
        return 10.0 ** (self.snr_db / 10.0)


class Channel:
    """Mean SNR per client (large scale) times a fading gain (small scale).

    Uplink and downlink share the small-scale gain (TDD reciprocity: one band,
    one coherence interval) but have their own mean SNR, from their own
    transmit power, bandwidth and noise.

    mean_snr_ul_db, mean_snr_dl_db : [num_clients] mean full-band SNR [dB]
    distance_3d_m : [num_clients] for the propagation delay
    rate : uplink rate model; rate_downlink : downlink's (None = the same)
    packet_error_rate : loss probability of a packet on top of the rate
        model's block error rate (independent of it)
    burst : Gilbert-Elliott chains adding bursty loss per draw (None = off)
    trace : replayed SNRs, fading included, instead of mean SNR x fading
    record : keep every draw's SNRs in ``history`` (for trace export)
    within_transfer : the gain follows the fading process within a round, per
        coherence block (:meth:`block_ratios`), instead of holding the round's draw

    ``inr_ul`` : [num_clients] uplink interference-to-noise ratio I / N over the
    full band (linear; zeros without interference): the uplink SNR is then the
    full-band SINR, and a medium whose clients concentrate their power scales
    it per share with :func:`channels.interference.concentrated_share_sinr`.
    """

    def __init__(
        self,
        mean_snr_ul_db: np.ndarray,
        mean_snr_dl_db: np.ndarray,
        fading: Fading,
        rate: RateModel,
        bandwidth_ul_hz: float,
        bandwidth_dl_hz: float,
        distance_3d_m: np.ndarray,
        packet_error_rate: float = 0.0,
        rate_downlink: RateModel | None = None,
        burst: GilbertElliott | None = None,
        trace: SnrTrace | None = None,
        record: bool = False,
        within_transfer: bool = False,
    ) -> None:
        if not 0.0 <= packet_error_rate <= 1.0:
            raise ValueError(f"packet_error_rate must be in [0, 1], got {packet_error_rate}")
        self.mean_snr_ul_db = np.asarray(mean_snr_ul_db, dtype=float)
        self.mean_snr_dl_db = np.asarray(mean_snr_dl_db, dtype=float)
        self.fading = fading
        self.rate = rate
        self.rate_downlink = rate if rate_downlink is None else rate_downlink
        self.bandwidth_ul_hz = bandwidth_ul_hz
        self.bandwidth_dl_hz = bandwidth_dl_hz
        self.latency_s = np.asarray(distance_3d_m, dtype=float) / SPEED_OF_LIGHT_M_S
        self.packet_error_rate = packet_error_rate
        self.burst = burst
        self.trace = trace
        self.record = record
        self.history: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.inr_ul = np.zeros(self.mean_snr_ul_db.shape[0])
        if within_transfer and fading.doppler_hz is None:
            raise ValueError("fading within a transfer needs a Doppler (doppler_hz)")
        self.within_transfer = within_transfer and trace is None

    def set_large_scale(self, mean_snr_ul_db: np.ndarray, mean_snr_dl_db: np.ndarray, distance_3d_m: np.ndarray) -> None:
        """New mean SNRs and distances (clients moved); the fading process carries on."""
        self.mean_snr_ul_db = np.asarray(mean_snr_ul_db, dtype=float)
        self.mean_snr_dl_db = np.asarray(mean_snr_dl_db, dtype=float)
        self.latency_s = np.asarray(distance_3d_m, dtype=float) / SPEED_OF_LIGHT_M_S

    @property
    def num_clients(self) -> int:
        return int(self.mean_snr_ul_db.shape[0])

    def block_s(self, duration_s: float) -> float:
        """Coherence-block length for a round of ``duration_s`` [s]: T_c = 0.423 / f_d, or longer.

        A round is cut into at most MAX_BLOCKS_PER_ROUND blocks: with faster
        fading each block is deadline / MAX_BLOCKS_PER_ROUND long, so a
        transfer spanning a fraction q of the round still averages over about
        q * 1024 independent fades (its rate's spread about the ergodic rate
        shrinks as 1 / sqrt of that); finer blocks would cost time for no
        visible change in who makes the deadline.
        """
        f_d = self.fading.doppler_hz
        t_c = coherence_time_s(f_d) if f_d else math.inf
        return max(t_c, duration_s / MAX_BLOCKS_PER_ROUND)

    def block_ratios(self, t0_s: float, duration_s: float) -> tuple[np.ndarray, float, float] | None:
        """(gain ratio [num_clients, num_blocks], t0 [s], block length [s]) over a round, or None.

        The ratio is each block's power gain over the gain :meth:`states` drew
        at ``t0_s`` (call that first): the medium multiplies the round's SNRs by it.
        None when the gain holds for the round (block fading, traces).
        """
        if not self.within_transfer:
            return None
        block_s = self.block_s(duration_s)
        if not math.isfinite(block_s) or block_s >= duration_s:
            return None  # one block: the round's draw holds
        k = int(math.ceil(duration_s / block_s)) + 1
        g = np.maximum(self.fading.block_gains(t0_s, block_s, k), 1e-30)
        return g / g[:, :1], t0_s, block_s

    def states(self, t_s: float, normals: np.ndarray) -> tuple[LinkState, LinkState]:
        """(uplink, downlink) at time ``t_s``; normals : [num_clients, 2] fading innovations."""
        if self.trace is not None:
            snr_ul_db, snr_dl_db = self.trace.at(t_s)
        else:
            gain_db = 10.0 * np.log10(np.maximum(self.fading.gain(t_s, normals), 1e-30))
            snr_ul_db, snr_dl_db = self.mean_snr_ul_db + gain_db, self.mean_snr_dl_db + gain_db
        if self.record:
            self.history.append((t_s, snr_ul_db, snr_dl_db))
        # One chain per client for both directions: a deep fade or a blocked
        # path hits the uplink and the downlink of the same round alike.
        keep = (1.0 - self.packet_error_rate) * (1.0 - (self.burst.step() if self.burst is not None else 0.0))
        out = []
        for snr_db, bw, model in (
            (snr_ul_db, self.bandwidth_ul_hz, self.rate),
            (snr_dl_db, self.bandwidth_dl_hz, self.rate_downlink),
        ):
            snr = 10.0 ** (snr_db / 10.0)
            # A packet gets through only if neither the block nor the extra loss hits it.
            bler = 1.0 - (1.0 - model.block_error_rate(snr)) * keep
            extra = np.broadcast_to(1.0 - keep, snr.shape)
            out.append(LinkState(snr_db, model.rate_bps(snr, bw), bler, extra, self.latency_s, bw))
        return out[0], out[1]
