"""The Algorithm seam between the simulated network and the learning.

``sim`` drives an :class:`Algorithm` through the round; this package never
imports ``sim`` or ``simpy``.  Sizes are exact: a :class:`Payload` carries the
number of bits its encoder produced.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Budget", "Payload", "Algorithm", "register", "create", "available"]


@dataclass(frozen=True)
class Budget:
    """What one client's uplink can deliver before the round deadline.

    max_bits : payload bits deliverable in the time left, at the expected
        share of the band and after expected retransmissions [bit]
    rate_bps : that expected goodput [bit/s]
    snr_db : the client's full-band SNR this round [dB]
    deadline_s : upload time left before the deadline [s]
    """

    max_bits: int
    rate_bps: float
    snr_db: float
    deadline_s: float


@dataclass(frozen=True)
class Payload:
    """An encoded message; ``bits`` is its exact size on the air interface.

    content : what the receiver decodes (None for synthetic traffic)
    k : Top-k size it carries, when it carries logits
    """

    bits: int
    content: Any = None
    k: int | None = None
    meta: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.bits < 0:
            raise ValueError(f"payload bits must be >= 0, got {self.bits}")


@runtime_checkable
class Algorithm(Protocol):
    """One federated learning algorithm, seen from the round driver.

    Optional: ``client_storage_bytes(client) -> int``, the bytes of the model
    a client holds as stored; clients.csv records it (empty without it).

    Optional: ``pull(client, version)``, for asynchronous rounds
    (``round.mode: async``): the client's download of server model
    ``version`` has arrived and its next ``local_update(client, version,
    budget)`` starts from it; ``aggregate`` then gets payloads whose ``meta``
    carries ``staleness``, ``staleness_weight`` and ``version``.
    """

    def broadcast(self, round_index: int) -> Payload:
        """The model/knowledge the server sends to every client this round.

        An algorithm whose clients download different things (one adapter per
        model family, a one-time model download) also defines
        ``downlink(client, round_index) -> Payload``; the engine then sizes
        each client's download by it and calls ``broadcast`` only to let the
        server prepare the round.
        Such an algorithm may also define ``downloaded(client, round_index)``:
        the engine calls it, before ``aggregate``, for every client whose
        download arrived this round, so the algorithm knows what each client
        holds.
        """

    def work_flop(self, client: int, round_index: int) -> float:
        """Local compute this round [FLOP]; the device profile turns it into time."""

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        """Train locally and encode the upload to fit ``budget``; None skips the upload."""

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        """Combine delivered payloads; ``failures`` maps client -> why it sent nothing."""

    def evaluate(self, round_index: int) -> dict[str, float]:
        """Metrics after aggregation (empty for network-only runs)."""


Factory = Callable[[Any, int, int], Algorithm]
_REGISTRY: dict[str, Factory] = {}
# Algorithms that need torch register themselves when their module is imported;
# importing them only on demand keeps ``import workloads`` (and network-only runs) torch-free.
_LAZY: dict[str, str] = {
    "fedavg_lora": "workloads.fedavg_lora",
    "fd_full": "workloads.fd_full",
    "fd_topk_zeropad": "workloads.fd_topk_zeropad",
    "adaptive_topk": "workloads.adaptive_topk",
    "fedsoda": "workloads.fedsoda",
    "fedbiot": "workloads.fedbiot",
    "flexlora": "workloads.flexlora",
    "local_only": "workloads.bounds",
    "centralised": "workloads.bounds",
}


def register(name: str) -> Callable[[Factory], Factory]:
    """Class/function decorator: make an algorithm selectable by ``workload.algorithm``."""

    def deco(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"algorithm {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return deco


def create(name: str, cfg: Any, num_clients: int, seed: int) -> Algorithm:
    """Build a registered algorithm from its workload configuration."""
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name])
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(available())}") from None
    return factory(cfg, num_clients, seed)


def available() -> list[str]:
    return sorted(set(_REGISTRY) | set(_LAZY))
