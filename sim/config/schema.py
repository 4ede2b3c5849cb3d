"""The scenario schema: pydantic models of every key, its default, range and description.

Every key has a documented default, so a ten-line YAML works.  Unknown keys
and out-of-range values are errors.  Units are in key names (``_m``, ``_db``,
``_dbm``, ``_s``, ...).  Reading files, overrides, one-line errors and checks
that span sections live in :mod:`sim.config.scenario`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from typing_extensions import Self

import channels.config as rc
from channels.config import RadioConfig
from channels.fading import DOPPLER_MODELS, FADING_MODELS
from channels.pathloss import PATHLOSS_MODELS
from channels.shadowing import MAX_CORRELATED_CLIENTS
from sim.config.choices import OneOf
from sim.config.choices import names as _names
from sim.core.medium import SHARING
from sim.core.selection import POLICIES as SELECTION_POLICIES
from sim.config.workload_schema import (
    UNREGISTERED, algorithm_description, default_workload, own_fields, workload_configs, workload_field, workload_groups,
    workload_json_schema, workload_row,
)
from workloads.config import ClientModel, LMConfig, StrictConfig, WorkloadConfig, problem

__all__ = [
    "Scenario", "SweepCfg", "WorkloadConfig", "LMConfig", "ClientModel", "OneOf", "leaf_fields", "workload_configs",
    "workload_groups", "own_fields", "algorithm_description", "refresh_workloads", "UNREGISTERED", "MAX_CLIENTS", "MAX_ROUNDS",
    "MAX_CORRELATED_CLIENTS", "radio_config",
]

MAX_CLIENTS = 100_000
MAX_ROUNDS = 100_000


SharingName = Annotated[str, _names(SHARING)]


_Strict = StrictConfig  # every section of the scenario, as every part's config: unknown keys are errors


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
    model: Annotated[str, OneOf(lambda: PATHLOSS_MODELS)] = Field(
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

    @model_validator(mode="after")
    def _options_of_the_model(self) -> Self:
        # Each registered model names the options it reads: another model's option would be ignored silently.
        # One left at its default changes nothing (and every resolved scenario lists them all), so it passes.
        cls = PATHLOSS_MODELS.get(self.model)
        if cls is None:
            return self
        fields = type(self).model_fields
        changed = {k for k in self.model_fields_set if getattr(self, k) != fields[k].get_default()}
        for key in sorted(changed - {"model", "los"} - set(cls.options)):
            owners = [name for name, m in PATHLOSS_MODELS.items() if key in m.options]
            takes = ", ".join(cls.options) if cls.options else "no options"
            raise problem(key, f"applies to {', '.join(owners)}, not to {self.model} ({self.model} takes {takes})")
        return self


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
        "same records (sim.core.fastround.events_needed says when not), else one SimPy process per client; "
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
    # The registered algorithms' configs, one union on workload.algorithm: refresh_workloads builds it.
    workload: WorkloadConfig = Field(default_factory=default_workload, description="what is learned and sent")
    sweep: SweepCfg = Field(
        default_factory=SweepCfg, description="points for `fedwave sweep` (ignored by `fedwave run`)"
    )

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate ``obj`` against the algorithms registered now (a plugin registered since is selectable)."""
        refresh_workloads()
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON Schema (editor completion): ``workload`` is any of the registered configs."""
        refresh_workloads()
        schema = super().model_json_schema(*args, **kwargs)
        return workload_json_schema(schema, workload_configs())


# The configs the Scenario's workload union was last built from.
_BUILT_FROM: dict[str, type[WorkloadConfig]] = {}


def refresh_workloads() -> bool:
    """Rebuild ``Scenario.workload`` from the registry when it changed since the last build; True when it did."""
    configs = workload_configs()
    if configs == _BUILT_FROM:
        return False
    Scenario.model_fields["workload"] = workload_field(configs)
    Scenario.model_rebuild(force=True)
    _BUILT_FROM.clear()
    _BUILT_FROM.update(configs)
    return True


def leaf_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, Any, str]]:
    """``(dotted name, default, description)`` for every leaf key of the schema, each once.

    ``workload`` contributes the keys of every registered config (a key two
    algorithms declare, such as ``adapter_layers``, once, as the first declares it).
    """
    rows: list[tuple[str, Any, str]] = []
    for key, field in model.model_fields.items():
        ann = field.annotation
        dotted = f"{prefix}{key}"
        if model is Scenario and key == "workload":
            seen: set[str] = set()
            for cls, _ in workload_groups():
                for name in own_fields(cls):
                    if name not in seen:
                        seen.add(name)
                        rows.append(workload_row(cls, name, dotted + "."))
        elif isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(leaf_fields(ann, dotted + "."))
        else:
            rows.append((dotted, field.get_default(call_default_factory=True), field.description or ""))
    return rows


def radio_config(scn: Scenario) -> RadioConfig:
    """The scenario's radio sections (clients' radio keys, cell, channel, the medium's packet loss) in channels' terms."""
    cl, cell, ch, p = scn.clients, scn.cell, scn.channel, scn.clients.placement
    bw_dl = cell.downlink_bandwidth_mhz
    return RadioConfig(
        num_clients=cl.count,
        placement=rc.PlacementConfig(
            kind=p.kind, radius_m=p.radius_m, min_distance_m=p.min_distance_m, num_rings=p.num_rings, isd_m=p.isd_m,
            distances_m=None if p.distances_m is None else tuple(p.distances_m),
        ),
        cell=rc.CellConfig(
            carrier_hz=cell.carrier_ghz * 1e9, bandwidth_hz=cell.bandwidth_mhz * 1e6,
            downlink_bandwidth_hz=None if bw_dl is None else bw_dl * 1e6, duplex=cell.duplex,
            tdd_pattern=cell.tdd_pattern, bs_height_m=cell.bs_height_m, ue_height_m=cl.height_m,
            bs_tx_power_dbm=cell.tx_power_dbm, ue_tx_power_dbm=cl.tx_power_dbm, noise_figure_db=cell.noise_figure_db,
            bs_antenna_gain_dbi=cell.antenna_gain_dbi, ue_antenna_gain_dbi=cl.antenna_gain_dbi, snr_db=ch.snr_db,
        ),
        pathloss=rc.PathLossConfig(**ch.pathloss.model_dump()),
        shadowing=rc.ShadowingConfig(ch.shadowing, ch.shadowing_sigma_db, ch.shadowing_correlation_m),
        fading=rc.FadingConfig(**ch.fading.model_dump()),
        rate=rc.RateConfig(**ch.rate.model_dump()),
        burst_loss=rc.BurstLossConfig(**ch.gilbert_elliott.model_dump()),
        mobility=rc.MobilityConfig(cl.mobility.kind, cl.mobility.speed_mps),
        interference=ch.interference,
        packet_error_rate=scn.medium.packet_error_rate,
        trace=ch.trace,
        trace_export=ch.trace_export,
    )


refresh_workloads()
