"""The Algorithm seam between the simulated network and the learning.

``sim`` drives an :class:`Algorithm` through the round; this package never
imports ``sim`` or ``simpy``, and this module not torch either (the scenario
schema reads the algorithm names and config classes from it).  Sizes are exact: a
:class:`Payload` carries the number of bits its encoder produced.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workloads.config import WorkloadConfig

__all__ = [
    "Budget", "Payload", "Algorithm", "SEED_PURPOSE", "register", "create", "available", "config_class", "summary",
    "seed_branch",
]


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


class Algorithm:
    """One federated learning algorithm, seen from the round driver; every algorithm subclasses it.

    Required (the base raises NotImplementedError): ``broadcast``,
    ``work_flop``, ``local_update``, ``aggregate``, ``evaluate``.

    Optional, each with a default that suits an algorithm whose clients all
    download the same thing and hold nothing the records should show:

    - ``downlink(client, round_index)``: what one client downloads; default
      the broadcast itself.
    - ``downloaded(client, round_index)``: that client's download arrived;
      default nothing.
    - ``client_storage_bytes(client)``: bytes of the model the client holds
      as stored; default None (clients.csv leaves it empty).
    - ``pull(client, version)``: asynchronous rounds (``round.mode: async``),
      the client's download of model ``version`` arrived; default nothing.

    The round driver needs to know which of ``downlink`` and ``downloaded`` a
    class overrides (the defaults cost a call per client per round for
    nothing); :attr:`per_client_downlink` and :attr:`tracks_downloads` say so,
    set for every subclass from its methods.
    """

    per_client_downlink: bool = False
    tracks_downloads: bool = False
    # Whether fixed_upload / fixed_work_flop speak for this class: not where a subclass overrides
    # local_update / work_flop below the class that declared them.
    fixed_upload_applies: bool = False
    fixed_work_applies: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.per_client_downlink = cls.downlink is not Algorithm.downlink
        cls.tracks_downloads = cls.downloaded is not Algorithm.downloaded
        cls.fixed_upload_applies = _owner(cls, "fixed_upload") is _owner(cls, "local_update")
        cls.fixed_work_applies = _owner(cls, "fixed_work_flop") is _owner(cls, "work_flop")

    def broadcast(self, round_index: int) -> Payload:
        """What the server sends every client this round.

        Called once per round before any download.  An algorithm whose
        clients download different things also overrides ``downlink``; the
        driver then sizes each client's download by it and calls
        ``broadcast`` only to let the server prepare the round.
        """
        raise NotImplementedError(f"{type(self).__name__}.broadcast")

    def downlink(self, client: int, round_index: int) -> Payload:
        """What ``client`` downloads this round (after ``broadcast``); default: the broadcast."""
        return self.broadcast(round_index)

    def downloaded(self, client: int, round_index: int) -> None:
        """``client``'s download arrived this round; called before ``aggregate`` for every such client."""

    def client_storage_bytes(self, client: int) -> int | None:
        """Bytes of the model ``client`` holds as stored; None when the algorithm declares nothing."""
        return None

    def pull(self, client: int, version: int) -> None:
        """Asynchronous rounds: ``client`` holds server model ``version``; its next update starts from it.

        ``aggregate`` then gets payloads whose ``meta`` carries ``staleness``,
        ``staleness_weight`` and ``version``.
        """

    def work_flop(self, client: int, round_index: int) -> float:
        """Local compute this round [FLOP]; the device profile turns it into time."""
        raise NotImplementedError(f"{type(self).__name__}.work_flop")

    def local_update(self, client: int, round_index: int, budget: Budget) -> Payload | None:
        """Train locally and encode the upload to fit ``budget``; None skips the upload."""
        raise NotImplementedError(f"{type(self).__name__}.local_update")

    def fixed_upload(self, round_index: int) -> Payload | None:
        """The payload every client uploads this round whatever its budget; None (the default): ask each.

        For synthetic traffic, so that the closed-form round driver needs no
        ``local_update`` call per client; ``local_update`` must still return
        this payload (the event path calls it).  A subclass that overrides
        ``local_update`` is asked per client again (``fixed_upload_applies``).
        """
        return None

    def fixed_work_flop(self, round_index: int) -> float | None:
        """Every client's ``work_flop`` this round, where they are all the same; None (the default): ask each."""
        return None

    def aggregate(self, round_index: int, payloads: Mapping[int, Payload], failures: Mapping[int, str]) -> None:
        """Combine delivered payloads; ``failures`` maps client -> why it sent nothing (the outcome's name)."""
        raise NotImplementedError(f"{type(self).__name__}.aggregate")

    def evaluate(self, round_index: int) -> dict[str, float]:
        """Metrics after aggregation, names starting ``eval_`` (empty for network-only runs)."""
        raise NotImplementedError(f"{type(self).__name__}.evaluate")


def _owner(cls: type, name: str) -> type | None:
    """The class in ``cls``'s method resolution order that defines ``name``."""
    return next((c for c in cls.__mro__ if name in vars(c)), None)


# The algorithm's id in the run's seed tree (sim.core.rng.PURPOSES["workload"] is this number).
SEED_PURPOSE = 8

Factory = Callable[[Any, int, np.random.SeedSequence], Algorithm]
_REGISTRY: dict[str, Factory] = {}
_CONFIGS: dict[str, type[WorkloadConfig]] = {}
_SUMMARIES: dict[str, str] = {}


@dataclass(frozen=True)
class _Lazy:
    """A built-in algorithm not imported yet: the module that registers it, its torch-free config and what it is."""

    module: str
    config: str  # "module:Class"
    summary: str


# The built-in algorithms that need torch register themselves when their module
# is imported; naming them here (with the module that registers them and their
# torch-free config class) lets the scenario accept them and keeps
# ``import workloads`` (and network-only runs) torch-free.
_LM = "workloads.config:LMConfig"
_LAZY: dict[str, _Lazy] = {
    "fedavg_lora": _Lazy("workloads.fedavg_lora", "workloads.fedavg_lora_config:FedAvgLoraConfig", "LoRA weights averaged"),
    "fd_full": _Lazy("workloads.fd_full", "workloads.distill_config:DistillConfig", "full-vocabulary logits"),
    "fd_topk_zeropad": _Lazy(
        "workloads.fd_topk_zeropad", "workloads.fd_topk_zeropad_config:FdTopkZeropadConfig", "fixed top-k, zero-padded mean"
    ),
    "adaptive_topk": _Lazy("workloads.adaptive_topk", "workloads.adaptive_topk_config:AdaptiveTopkConfig", "AdaLD"),
    "fedsoda": _Lazy(
        "workloads.fedsoda", "workloads.fedsoda_config:FedSodaConfig",
        "pruned quantised sub-LLM with (Q)LoRA adapters and server-side alignment",
    ),
    "fedbiot": _Lazy(
        "workloads.fedbiot", "workloads.fedbiot_config:FedBiotConfig",
        "FedBiOT: adapter LoRA on a layer-dropped emulator that the server aligns layer-wise",
    ),
    "flexlora": _Lazy(
        "workloads.flexlora", "workloads.flexlora_config:FlexLoraConfig",
        "FlexLoRA: per-client LoRA rank, server averages the full-size updates and sends each client a truncated SVD",
    ),
    "local_only": _Lazy("workloads.bounds", _LM, "private training alone, nothing sent (lower bound)"),
    "centralised": _Lazy(
        "workloads.bounds", _LM,
        "one model trained on the union of the clients' private data with the same total steps, no network cost "
        "(upper bound)",
    ),
}


def register(name: str, config: type[WorkloadConfig] | None = None, summary: str = "") -> Callable[[Factory], Factory]:
    """Class/function decorator: make an algorithm selectable by ``workload.algorithm``.

    ``config`` is the pydantic class of its ``workload:`` keys (a subclass of
    :class:`workloads.config.WorkloadConfig`, which it defaults to: only
    ``algorithm`` and ``eval_every``); the factory gets the validated
    instance.  ``summary`` is one line for the scenario reference.  A name
    registered before a scenario is loaded is accepted by it.
    """
    if config is not None and not (isinstance(config, type) and issubclass(config, WorkloadConfig)):
        raise TypeError(f"algorithm {name!r}: config must subclass workloads.config.WorkloadConfig (got {config!r})")

    def deco(factory: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"algorithm {name!r} is already registered")
        _REGISTRY[name] = factory
        if config is not None:
            _CONFIGS[name] = config
        if summary:
            _SUMMARIES[name] = summary
        return factory

    return deco


def config_class(name: str) -> type[WorkloadConfig]:
    """The config class of algorithm ``name`` (importing a built-in's torch-free config module, never torch)."""
    if name in _CONFIGS:
        return _CONFIGS[name]
    if name in _LAZY:
        module, _, cls = _LAZY[name].config.partition(":")
        found: type[WorkloadConfig] = getattr(importlib.import_module(module), cls)
        return found
    if name in _REGISTRY:
        return WorkloadConfig
    raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(available())}")


def summary(name: str) -> str:
    """One line on what algorithm ``name`` sends and does ('' when its registration gave none)."""
    return _SUMMARIES.get(name) or (_LAZY[name].summary if name in _LAZY else "")


def seed_branch(seed: int) -> np.random.SeedSequence:
    """The algorithm's branch of the seed tree of a run with root ``seed`` (as ``sim.core.rng.branch(seed, "workload")``)."""
    return np.random.SeedSequence(seed, spawn_key=(SEED_PURPOSE,))


def create(name: str, cfg: Any, num_clients: int, seed: int | np.random.SeedSequence) -> Algorithm:
    """Build a registered algorithm from its workload configuration.

    ``seed`` is the algorithm's branch of the run's seed tree, or the run's
    root seed (an int), whose branch is then taken.  The factory gets a fresh
    copy of the branch, so spawning from it gives the same children whatever
    was spawned from ``seed`` before.
    """
    if name not in _REGISTRY and name in _LAZY:
        importlib.import_module(_LAZY[name].module)
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(available())}") from None
    ss = seed_branch(seed) if isinstance(seed, (int, np.integer)) else seed
    fresh = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)
    algorithm = factory(cfg, num_clients, fresh)
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"algorithm {name!r} built a {type(algorithm).__name__}, which does not subclass workloads.Algorithm")
    return algorithm


def available() -> list[str]:
    """Every selectable algorithm name: the registered ones and the built-ins not yet imported."""
    return sorted(set(_REGISTRY) | set(_LAZY))
