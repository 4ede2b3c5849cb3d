"""The shared band: bandwidth sharing, airtime and ARQ.

A :class:`Medium` is one direction of the cell.  Each transfer is a number of
bits (retransmissions included) that drains at a rate set by the sharing
policy and the client's full-band SNR ``s``; ``B`` is the band, ``N`` the
number of transfers expected this round, ``n`` the number active right now:

- ``fdma_static``: each of the round's ``N`` transfers owns ``B/N`` for the
  whole round, busy or not (the usual model of FL-over-wireless papers);
- ``ofdma``: each active transfer gets ``B/n`` and every rate is recomputed
  whenever a transfer starts or ends (a fluid, processor-sharing model: a
  client alone gets the whole band);
- ``tdma``: one transfer at a time over the whole band, first come first served;
- ``proportional_fair``: as ``ofdma``, re-split at every start and end, but
  the active transfers get the split that maximises the sum of their log
  rates (``channels.proportional_fair``): with power concentration a weak
  client is power-limited (its rate hardly grows with its share) and gets
  less band than a strong one; with a constant power density every rate is
  linear in its share and the split is equal, i.e. ``ofdma``.

With ``power_concentration`` (uplink: a UE puts its whole power into its
sub-band) a client holding ``B/n`` sees SNR ``n s``; the base station keeps its
power spectral density constant, so the downlink does not.  Under full-load
interference (:meth:`Medium.set_interference`, I / N per client) the
interferers concentrate their power in their shares too, and ``s`` being the
full-band SINR, the share's SINR is ``n s (1 + I/N) / (1 + n I/N)``
(:func:`channels.interference.concentrated_share_sinr`).

Fading within a transfer (:meth:`Medium.set_blocks`): each client's SNR is
then the round's SNR times a gain ratio per coherence block of ``block_s``
from the round start; a transfer drains at its rate in each block in turn
(the last block holds past the end).  ``fdma_static`` and ``tdma`` still find
each end when the transfer starts (a cumulative sum over blocks); ``ofdma``
and ``proportional_fair`` re-split at every block boundary as well.

``fdma_static`` and ``tdma`` know each transfer's end when it starts and cost
one SimPy event per transfer; ``ofdma`` costs one vector update per start or
end, O(n) each; ``proportional_fair`` a few O(n) vector passes per start or
end (one convex solve).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import simpy

from channels.interference import concentrated_share_sinr
from channels.rate import RateModel, chase_error_rates, combined_bler

__all__ = [
    "Medium",
    "MultiCellMedium",
    "Transfer",
    "ArqOutcome",
    "arq_attempts",
    "arq_packets",
    "make_medium",
    "SHARING",
]

# A transfer whose remainder is below this many bits is complete (float noise).
_EPS_BITS = 1e-6


class Transfer:
    """One transfer on a :class:`Medium`.

    ``done`` fires when the last bit is through; ``end_s`` is that time once
    known (or the time it was cut at the deadline, with ``cut`` set).
    """

    __slots__ = ("client", "bits", "start_s", "service_s", "end_s", "cut", "sent_bits", "done")

    def __init__(self, client: int, bits: float, start_s: float) -> None:
        self.client, self.bits, self.start_s = client, bits, start_s
        self.service_s = start_s  # later than start_s while it waits for its turn (tdma)
        self.end_s: float | None = None
        self.cut = False
        self.sent_bits = float(bits)  # fewer if cut at the deadline
        self.done: simpy.Event

    @property
    def airtime_s(self) -> float:
        """Time on the air so far, queueing excluded [s]."""
        end = self.end_s if self.end_s is not None else self.service_s
        return max(0.0, end - self.service_s)

    @property
    def completed(self) -> bool:
        return self.end_s is not None and not self.cut


class Medium:
    """One direction of the cell; subclasses decide how the band is shared."""

    sharing = ""

    def __init__(self, env: simpy.Environment, bandwidth_hz: float, rate: RateModel, power_concentration: bool) -> None:
        if not bandwidth_hz > 0:
            raise ValueError(f"bandwidth_hz must be > 0, got {bandwidth_hz}")
        self.env, self.bandwidth_hz = env, bandwidth_hz
        self.rate, self.power_concentration = rate, power_concentration
        self.expected = 1
        self.members: np.ndarray | None = None
        self.snr_linear = np.empty(0)
        self.inr: np.ndarray | None = None
        self.blocks: np.ndarray | None = None
        self.block_t0_s = 0.0
        self.block_s = math.inf
        self._expected_rate = np.empty(0)
        self._expected_bler = np.empty(0)
        self._expected_share_snr = np.empty(0)
        self._extra_loss = np.empty(0)
        self.max_concentration = math.inf  # B / (one PRB) under a minimum allocation

    def begin_round(
        self,
        snr_linear: np.ndarray,
        expected_transfers: int,
        extra_loss: np.ndarray | float = 0.0,
        members: np.ndarray | None = None,
    ) -> None:
        """Start a round: every client's full-band SNR and how many transfers to expect.

        snr_linear : [num_clients] linear SNR for this round (block fading)
        extra_loss : [num_clients] packet loss on top of the rate model's block errors
        members : indices of the clients expected to transfer (None = all);
            policies whose shares depend on who shares use it for the budget
        """
        self.expected = max(1, int(expected_transfers))
        self.members = None if members is None else np.asarray(members, dtype=np.int64)
        self.snr_linear = np.asarray(snr_linear, dtype=float)
        self.blocks = None  # until set_blocks, the round's SNR holds
        self._new_round()
        self._expected_rate = self._expected_rates(self.snr_linear)
        # Block errors at the SNR the client sees on its expected share of the
        # band, not at the full-band SNR: with power concentrated in B/N the
        # link adaptation picks its MCS for N times the full-band SNR.
        self._expected_share_snr = self._share_snr(self.snr_linear)
        self._extra_loss = np.broadcast_to(np.asarray(extra_loss, dtype=float), self.snr_linear.shape)
        block = self.rate.block_error_rate(self._expected_share_snr)
        self._expected_bler = 1.0 - (1.0 - block) * (1.0 - self._extra_loss)

    def set_blocks(self, gain_ratio: np.ndarray, t0_s: float, block_s: float) -> None:
        """Fading within the round (after :meth:`begin_round`).

        gain_ratio : [num_clients, num_blocks] power gain of block k over the
            gain at the round start (block 0 is 1)
        t0_s : start of block 0 [s]; block_s : block length [s]
        """
        if not block_s > 0:
            raise ValueError(f"block_s must be > 0, got {block_s}")
        self.blocks = np.asarray(gain_ratio, dtype=float)
        self.block_t0_s, self.block_s = float(t0_s), float(block_s)

    def _block_index(self, t_s: float) -> int:
        if self.blocks is None:
            return 0
        k = math.floor((t_s - self.block_t0_s) / self.block_s + 1e-9)
        return min(max(k, 0), self.blocks.shape[1] - 1)

    def _next_boundary_s(self, t_s: float) -> float:
        """The next block boundary after ``t_s`` (inf past the last block or without blocks)."""
        if self.blocks is None:
            return math.inf
        k = self._block_index(t_s)
        return self.block_t0_s + (k + 1) * self.block_s if k + 1 < self.blocks.shape[1] else math.inf

    def set_interference(self, inr_linear: np.ndarray) -> None:
        """[num_clients] full-band interference-to-noise ratio I / N of each client's receiver (full load)."""
        self.inr = np.asarray(inr_linear, dtype=float)

    def set_min_allocation(self, prb_hz: float) -> None:
        """No share narrower than ``prb_hz``: more sharers than PRBs time-share them.

        A transmitter then concentrates its power in one PRB at most: on a
        fluid share B/n < PRB its SNR is (B / PRB) s, not n s, and its rate
        (B/n) SE((B / PRB) s), i.e. one PRB for a fraction PRBs / n of the time.
        """
        if not prb_hz > 0:
            raise ValueError(f"prb_hz must be > 0, got {prb_hz}")
        self.max_concentration = max(1.0, self.bandwidth_hz / prb_hz)

    def _concentration(self, share: np.ndarray | float) -> np.ndarray | float:
        if not math.isfinite(self.max_concentration):
            return share
        if isinstance(share, (int, float)):
            return min(share, self.max_concentration)  # the same value as np.minimum, without its call
        return np.minimum(share, self.max_concentration)

    def _inr(self, clients: np.ndarray | None = None) -> np.ndarray | float:
        if self.inr is None:
            return 0.0
        return self.inr if clients is None else self.inr[clients]

    def _new_round(self) -> None:
        """Per-round state of a policy, set before the expected rates are computed."""

    def _share_snr(self, snr_linear: np.ndarray) -> np.ndarray:
        if not self.power_concentration:
            return snr_linear
        return concentrated_share_sinr(snr_linear, self._inr(), self._concentration(self.expected))

    def expected_bler(self, client: int) -> float:
        """Probability that one packet try of ``client`` fails this round."""
        return float(self._expected_bler[client])

    def tb_bits(self, client: int) -> int:
        """Transport-block size of the MCS ``client`` gets on its expected share this round [bit]."""
        return int(self.rate.tb_bits(float(self._expected_share_snr[client])))  # type: ignore[attr-defined]

    def harq_error_rates(self, client: int, attempts: int) -> np.ndarray:
        """[attempts] P(try k fails | tries 1 .. k-1 failed) with chase combining, on the expected share."""
        combined = combined_bler(self.rate, float(self._expected_share_snr[client]), attempts)
        return chase_error_rates(combined, float(self._extra_loss[client]))

    def share_rate_bps(
        self, snr_linear: np.ndarray | float, sharers: int, inr: np.ndarray | float = 0.0
    ) -> np.ndarray:
        """Rate of one transfer while the band is split ``sharers`` ways [bit/s].

        inr : I / N of the transfers' receivers under full-load interference (0 = none)
        """
        n = max(1, sharers)
        snr = np.asarray(snr_linear, dtype=float)
        if self.power_concentration:
            c = self._concentration(n)
            # Without interference c S / (N + c I) is c times the SNR, to the bit (x * 1 / 1 is x in IEEE
            # arithmetic): the fluid re-sharing calls this at every start and completion.
            no_inr = isinstance(inr, float) and inr == 0.0
            snr = snr * c if no_inr else concentrated_share_sinr(snr, inr, c)
        return self.rate.rate_bps(snr, self.bandwidth_hz / n)

    def expected_rate_bps(self, client: int) -> float:
        """The rate client's transfer can count on this round, before it starts [bit/s]."""
        return float(self._expected_rate[client])

    def _expected_rates(self, snr_linear: np.ndarray) -> np.ndarray:
        return self.share_rate_bps(snr_linear, self.expected, self._inr())

    def transmit(self, client: int, bits: float) -> Transfer:
        """Start sending ``bits`` from/to ``client`` now; wait on ``transfer.done``."""
        if bits < 0 or not math.isfinite(bits):
            raise ValueError(f"bits must be finite and >= 0, got {bits}")
        transfer = Transfer(client, bits, self.env.now)
        if bits <= _EPS_BITS:
            transfer.end_s = self.env.now
            transfer.done = self.env.timeout(0.0, 0.0)
            return transfer
        self._start(transfer)
        return transfer

    def abort(self) -> list[Transfer]:
        """Cut every unfinished transfer now (deadline); returns them.

        A transfer whose last bit is through at this very instant is finished,
        not cut.
        """
        cut = self._abort()
        for t in cut:
            t.end_s, t.cut = self.env.now, True
        return cut

    def cancel(self, transfer: Transfer) -> None:
        """Cut one unfinished transfer now (its client went offline); others go on."""
        # Scheduled policies know the end in advance: finished means the end has come.
        if transfer.cut or (transfer.end_s is not None and transfer.end_s <= self.env.now):
            return
        self._cancel(transfer)
        transfer.end_s, transfer.cut = self.env.now, True

    def _start(self, transfer: Transfer) -> None:
        raise NotImplementedError

    def _abort(self) -> list[Transfer]:
        raise NotImplementedError

    def _cancel(self, transfer: Transfer) -> None:
        raise NotImplementedError


class _Scheduled(Medium):
    """Policies where a transfer's end is known when it starts."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._open: list[Transfer] = []
        self._rate_of: dict[Transfer, float | np.ndarray] = {}

    def _start(self, transfer: Transfer) -> None:
        start, rate = self._slot(transfer.client)
        transfer.service_s = start
        if self.blocks is not None:
            profile = self._block_rates(transfer.client)
            self._rate_of[transfer] = profile
            transfer.end_s = self._finish_s(profile, start, transfer.bits)
        else:
            self._rate_of[transfer] = rate
            transfer.end_s = start + transfer.bits / rate if rate > 0 else math.inf
        if math.isfinite(transfer.end_s):
            transfer.done = self.env.timeout(transfer.end_s - self.env.now, transfer.end_s - transfer.start_s)
        else:
            transfer.done = self.env.event()  # a dead link: only the deadline ends it
        self._open.append(transfer)

    def _abort(self) -> list[Transfer]:
        now = self.env.now
        cut = [t for t in self._open if t.end_s is not None and t.end_s > now]
        for t in cut:
            rate = self._rate_of[t]
            if isinstance(rate, np.ndarray):
                t.sent_bits = max(0.0, self._bits_by(rate, now) - self._bits_by(rate, t.service_s))
            else:
                t.sent_bits = rate * max(0.0, now - t.service_s)
        self._open, self._rate_of = [], {}
        return cut

    def _cancel(self, transfer: Transfer) -> None:
        now = self.env.now
        rate = self._rate_of.pop(transfer, 0.0)
        if isinstance(rate, np.ndarray):
            transfer.sent_bits = max(0.0, self._bits_by(rate, now) - self._bits_by(rate, transfer.service_s))
        else:
            transfer.sent_bits = rate * max(0.0, now - transfer.service_s)
        self._open.remove(transfer)
        transfer.service_s = min(transfer.service_s, now)  # a queued transfer never went on the air

    def _slot(self, client: int) -> tuple[float, float]:
        """(service start, rate) for a transfer of ``client`` starting now."""
        raise NotImplementedError

    def _block_rates(self, client: int) -> np.ndarray:
        """[num_blocks] the client's rate in each coherence block [bit/s]."""
        raise NotImplementedError

    def _bits_by(self, rates: np.ndarray, t_s: float) -> float:
        """Bits a transfer at ``rates`` per block would carry from block 0's start to ``t_s``."""
        dt = self.block_s
        x = max(0.0, (t_s - self.block_t0_s) / dt)
        k = min(int(x), rates.shape[0] - 1)
        return float(rates[:k].sum() * dt + rates[k] * (t_s - self.block_t0_s - k * dt))

    def _finish_s(self, rates: np.ndarray, start_s: float, bits: float) -> float:
        """When ``bits`` started at ``start_s`` are through at ``rates`` per block [s]; inf if never."""
        dt = self.block_s
        target = self._bits_by(rates, start_s) + bits
        edges = np.concatenate([[0.0], np.cumsum(rates[:-1]) * dt])  # bits by each block's start
        k = int(np.searchsorted(edges, target, side="right")) - 1
        k = min(max(k, 0), rates.shape[0] - 1)
        if rates[k] <= 0:
            return math.inf
        return max(start_s, self.block_t0_s + k * dt + (target - edges[k]) / rates[k])


class FdmaStatic(_Scheduled):
    sharing = "fdma_static"

    def _slot(self, client: int) -> tuple[float, float]:
        return self.env.now, self.expected_rate_bps(client)

    def _block_rates(self, client: int) -> np.ndarray:
        if self.blocks is None:
            raise ValueError("no coherence blocks set")
        inr = 0.0 if self.inr is None else float(self.inr[client])
        return self.share_rate_bps(self.snr_linear[client] * self.blocks[client], self.expected, inr)


class Tdma(_Scheduled):
    sharing = "tdma"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._free_at = 0.0

    def _share_snr(self, snr_linear: np.ndarray) -> np.ndarray:
        return snr_linear  # every transfer has the whole band, in turn

    def _new_round(self) -> None:
        self._free_at = self.env.now  # the queue starts empty
        self._full_rate = self.rate.rate_bps(self.snr_linear, self.bandwidth_hz)

    def _expected_rates(self, snr_linear: np.ndarray) -> np.ndarray:
        # The whole band in turn: a share of time of 1/N when all N queue up.
        return self._full_rate / self.expected

    def _slot(self, client: int) -> tuple[float, float]:
        return max(self.env.now, self._free_at), float(self._full_rate[client])

    def _block_rates(self, client: int) -> np.ndarray:
        if self.blocks is None:
            raise ValueError("no coherence blocks set")
        return self.rate.rate_bps(self.snr_linear[client] * self.blocks[client], self.bandwidth_hz)

    def _start(self, transfer: Transfer) -> None:
        super()._start(transfer)
        self._free_at = transfer.end_s if transfer.end_s is not None else self._free_at

    def _abort(self) -> list[Transfer]:
        self._free_at = self.env.now
        return super()._abort()

    def _cancel(self, transfer: Transfer) -> None:
        if transfer.end_s == self._free_at:
            # The last in the queue: the band is free once the one before it is through.
            self._free_at = max(self.env.now, transfer.service_s)
        super()._cancel(transfer)


@functools.cache
def _policies() -> dict[str, type[Medium]]:
    """The sharing policies by name; the re-splitting ones live in sim.core.processor_sharing, which builds on this module."""
    from sim.core.processor_sharing import Ofdma, ProportionalFair

    return {m.sharing: m for m in (FdmaStatic, Ofdma, Tdma, ProportionalFair)}


def __getattr__(name: str) -> object:
    # SHARING, the sharing policies' names (the scenario's medium.*_sharing accepts exactly these), is read
    # when first asked for, so that either module can be imported first.
    if name == "SHARING":
        return tuple(_policies())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_medium(
    env: simpy.Environment, bandwidth_hz: float, sharing: str, rate: RateModel, power_concentration: bool
) -> Medium:
    """The medium for one direction, by sharing policy name."""
    try:
        cls = _policies()[sharing]
    except KeyError:
        raise ValueError(f"sharing {sharing!r} is not one of {', '.join(_policies())}") from None
    return cls(env, bandwidth_hz, rate, power_concentration)


class MultiCellMedium:
    """One :class:`Medium` per cell, each with its own band: a client shares only with its cell.

    Cells reuse orthogonal bands (no inter-cell interference).  Same interface
    as :class:`Medium`; client indices stay global.

    site : [num_clients] serving cell of each client
    """

    def __init__(self, cells: list[Medium], site: np.ndarray) -> None:
        self.cells, self.site = cells, np.asarray(site, dtype=np.int64)
        self._client_site = self.site
        self.bandwidth_hz = cells[0].bandwidth_hz

    def set_virtual_sites(self, cells: np.ndarray) -> None:
        """Cells of the round's virtual receivers (multicast groups), indexed after the clients."""
        self.site = np.concatenate([self._client_site, np.asarray(cells, dtype=np.int64)])

    def set_interference(self, inr_linear: np.ndarray) -> None:
        for cell in self.cells:
            cell.set_interference(inr_linear)

    def set_min_allocation(self, prb_hz: float) -> None:
        for cell in self.cells:
            cell.set_min_allocation(prb_hz)

    def set_blocks(self, gain_ratio: np.ndarray, t0_s: float, block_s: float) -> None:
        for cell in self.cells:
            cell.set_blocks(gain_ratio, t0_s, block_s)

    def begin_round(
        self,
        snr_linear: np.ndarray,
        expected_transfers: int,
        extra_loss: np.ndarray | float = 0.0,
        members: np.ndarray | None = None,
    ) -> None:
        # Each cell expects those of the round's clients (all, unless members says) that it serves.
        taking_part = np.ones(self.site.shape[0], dtype=bool)
        if members is not None:
            taking_part[:] = False
            taking_part[np.asarray(members, dtype=np.int64)] = True
        for c, cell in enumerate(self.cells):
            own = np.flatnonzero((self.site == c) & taking_part)
            cell.begin_round(snr_linear, own.shape[0], extra_loss, own)

    def expected_rate_bps(self, client: int) -> float:
        return self.cells[self.site[client]].expected_rate_bps(client)

    def expected_bler(self, client: int) -> float:
        return self.cells[self.site[client]].expected_bler(client)

    def harq_error_rates(self, client: int, attempts: int) -> np.ndarray:
        return self.cells[self.site[client]].harq_error_rates(client, attempts)

    def tb_bits(self, client: int) -> int:
        return self.cells[self.site[client]].tb_bits(client)

    def transmit(self, client: int, bits: float) -> Transfer:
        return self.cells[self.site[client]].transmit(client, bits)

    def abort(self) -> list[Transfer]:
        return [t for cell in self.cells for t in cell.abort()]

    def cancel(self, transfer: Transfer) -> None:
        self.cells[self.site[transfer.client]].cancel(transfer)


@dataclass(frozen=True)
class ArqOutcome:
    """What ARQ did to one payload.

    attempts : packet transmissions in total
    air_bits : bits put on the air, retransmissions included
    ok : every packet got through within ``max_attempts`` tries
    """

    attempts: int
    air_bits: int
    ok: bool


def arq_packets(bits: int, packet_bits: int) -> int:
    """Number of link-layer packets that carry ``bits``."""
    return -(-int(bits) // packet_bits) if bits > 0 else 0


@functools.lru_cache(maxsize=256)
def _thinning(p: float, max_attempts: int) -> tuple[float, ...]:
    """P(retry j | retry j-1, packet got through within M tries), j = 1 .. M-1."""
    p_fail = p**max_attempts
    return tuple((p**j - p_fail) / (p ** (j - 1) - p_fail) for j in range(1, max_attempts))


def _extra_tries(packets: int, p: float, max_attempts: int, rng: np.random.Generator) -> int:
    """Retransmissions of ``packets`` packets that all got through within ``max_attempts`` tries.

    For one such packet, P(at least j retries) = (p^j - p^M) / (1 - p^M); the
    number of packets with at least j retries is thinned from those with at
    least j - 1 by a binomial draw, so the sum costs M draws, not one per packet.
    """
    extra, alive = 0, packets
    for q in _thinning(p, max_attempts):
        if alive == 0:
            break
        alive = int(rng.binomial(alive, q))
        extra += alive
    return extra


def arq_attempts(
    bits: int, packet_bits: int, error_rate: float, max_attempts: int, rng: np.random.Generator
) -> ArqOutcome:
    """Send ``bits`` as packets of ``packet_bits`` over a link that loses each try with ``error_rate``.

    A packet is retried up to ``max_attempts`` times; the payload fails, and
    the sender stops, at the first packet that exhausts them.  The expected
    tries per packet are (1 - p^M) / (1 - p); the payload gets through with
    probability (1 - p^M)^packets.  Exact, and O(M) draws whatever the size.
    """
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
    npk = arq_packets(bits, packet_bits)
    if npk == 0:
        return ArqOutcome(0, 0, True)
    if error_rate == 0.0:
        return ArqOutcome(npk, int(bits), True)
    last_bits = int(bits) - (npk - 1) * packet_bits
    if error_rate == 1.0:
        first = packet_bits if npk > 1 else last_bits
        return ArqOutcome(max_attempts, first * max_attempts, False)
    p, m = error_rate, max_attempts
    p_fail = p**m
    # 1-based index of the first packet that fails all M tries.
    first_fail = int(rng.geometric(p_fail)) if p_fail > 0.0 else npk + 1
    if first_fail < npk:  # stops before the (shorter) last packet
        tries = first_fail - 1 + _extra_tries(first_fail - 1, p, m, rng) + m
        return ArqOutcome(tries, tries * packet_bits, False)
    body = npk - 1 + _extra_tries(npk - 1, p, m, rng)
    last = m if first_fail == npk else 1 + _extra_tries(1, p, m, rng)
    return ArqOutcome(body + last, body * packet_bits + last * last_bits, first_fail > npk)
