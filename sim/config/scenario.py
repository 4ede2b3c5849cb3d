"""Scenario files: reading, overrides, cross-section checks and one-line errors.

:func:`load_scenario` turns any problem with a scenario file into a
:class:`ScenarioError` whose one-line message names the file, the YAML line
(where the key is in the file), the dotted field and the problem.  The schema
itself (every key, default and range) is :mod:`sim.config.schema`.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.config.errors import ScenarioError
from sim.config.grid import MAX_SWEEP_POINTS, count_points
from channels.pathloss import PATHLOSS_MODELS
from channels.shadowing import MAX_CORRELATED_CLIENTS
from sim.config.schema import Scenario, SweepCfg, leaf_fields
from sim.config.workload_schema import UNREGISTERED, workload_configs
from sim.core.selection import check_participation

# A scenario is a page of keys; a larger file is a mistake (a log, a data set) and would take minutes to parse.
MAX_SCENARIO_BYTES = 1 << 20
# The schema is 4 levels deep; sweep values and lists add a few more.
MAX_YAML_DEPTH = 32

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
    "MAX_SCENARIO_BYTES",
    "MAX_SWEEP_POINTS",
]


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


def _known_keys(loc: tuple[Any, ...], algorithm: str | None = None) -> list[str]:
    model: type[BaseModel] | None = Scenario
    for depth, part in enumerate(loc[:-1]):
        if isinstance(part, int):
            continue  # an item of a list of sections (workload.client_models)
        if depth == 0 and part == "workload":
            model = workload_configs().get(algorithm or "none")
            continue
        field = model.model_fields.get(str(part)) if model else None
        ann = _section_type(field.annotation) if field else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return list(model.model_fields) if model else []


def _error(error: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    """(path in the scenario, one-line problem) of a pydantic error, the workload's union tag taken out of the path.

    A config's cross-check (``workloads.config.problem``) blames the key it names.
    """
    loc = tuple(error["loc"])
    algorithm = None
    if loc[:1] == ("workload",) and len(loc) > 1 and (loc[1] == UNREGISTERED or loc[1] in workload_configs()):
        algorithm, loc = (None if loc[1] == UNREGISTERED else str(loc[1])), ("workload", *loc[2:])
    if error["type"] == "cross_check":
        return loc + tuple(error["ctx"]["field"]), str(error["ctx"]["problem"])
    return loc, _describe({**error, "loc": loc}, algorithm)


def _section_type(ann: Any) -> Any:
    """``X``, ``list[X]`` and ``list[X] | None`` -> X, so keys inside list items get hints too."""
    import typing

    for arg in (ann, *typing.get_args(ann)):
        if typing.get_origin(arg) is list:
            return typing.get_args(arg)[0]
    return ann


def _describe(error: dict[str, Any], algorithm: str | None = None) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "literal_error":
        expected = error["ctx"]["expected"].replace("'", "").replace(" or ", ", ")
        close = difflib.get_close_matches(value, expected.split(", "), n=1) if isinstance(value, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{_short(repr(value))} is not one of {expected}{hint}"
    if kind == "extra_forbidden":
        key, loc = str(error["loc"][-1]), error["loc"]
        if loc[:1] == ("workload",) and len(loc) == 2 and algorithm:
            return _unknown_workload_key(key, algorithm)
        close = difflib.get_close_matches(key, _known_keys(loc, algorithm), n=1)
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
    return f"{msg} (got {_short(repr(value))})"


def _unknown_workload_key(key: str, algorithm: str) -> str:
    """``workload.<key>`` that ``algorithm``'s config lacks: say whose key it is, or what it may be a typo of."""
    configs = workload_configs()
    owners = [name for name, cls in configs.items() if key in cls.model_fields]
    if owners:
        return f"unknown key for algorithm {algorithm} (a key of {', '.join(owners)})"
    close = difflib.get_close_matches(key, list(configs[algorithm].model_fields), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key for algorithm {algorithm}{hint}"


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        part = part if isinstance(part, int) else _short(str(part), 40)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
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
        raise ScenarioError(f"--set {_short(key)}: value is not valid YAML ({err.__class__.__name__})") from None
    except RecursionError:
        raise ScenarioError(f"--set {_short(key)}: value nested too deeply") from None
    except ValueError as err:  # an integer of thousands of digits
        raise ScenarioError(f"--set {_short(key)}: value cannot be read ({_short(str(err))})") from None
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[tuple[str, Any]]) -> dict[str, Any]:
    """Set dotted keys in a nested mapping (in place), creating sections as needed.

    An override of ``workload.algorithm`` runs the scenario with another
    algorithm: the workload keys only the scenario's own algorithm takes are
    left out (a fedsoda file's ``sgp_*`` keys when it runs fedavg_lora); a key
    the overrides set themselves is kept and checked as ever.
    """
    workload = data.get("workload")
    before = workload.get("algorithm", "none") if isinstance(workload, dict) else None
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
    workload = data.get("workload")
    if before is not None and isinstance(workload, dict) and workload.get("algorithm", "none") != before:
        _leave_out_keys_of(before, workload, {k.split(".", 2)[1] for k, _ in overrides if k.startswith("workload.")})
    return data


def _leave_out_keys_of(algorithm: Any, workload: dict[str, Any], kept: set[str]) -> None:
    """Drop from ``workload`` the keys ``algorithm``'s config declares and the newly chosen one's lacks."""
    configs = workload_configs()
    old, new = configs.get(str(algorithm)), configs.get(str(workload.get("algorithm", "none")))
    if old is None or new is None:
        return  # an unknown name: validation says so
    for key in [k for k in workload if k in old.model_fields and k not in new.model_fields and k not in kept]:
        del workload[key]


def _check_consistency(scn: Scenario) -> tuple[tuple[Any, ...], str] | None:
    participation = check_participation(scn)
    if participation:
        return participation
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
    problem = scn.workload.scenario_problem(scn.clients.count) or _radio_problem(scn)
    if problem:
        return problem
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
    if scn.clients.power_control == "open_loop":
        loc = ("clients", "power_control")
        if scn.round.mode == "async":
            return loc, "open_loop needs round.mode sync (the grant is the round's expected share)"
        if scn.channel.snr_db is not None or scn.channel.trace is not None:
            return loc, "open_loop needs the path loss from geometry (channel.snr_db or channel.trace replaces it)"
        if scn.channel.interference == "full_load":
            return loc, "open_loop with full_load is not modelled (the interferers would transmit at full power)"
    if scn.medium.packet_size == "transport_block" and scn.channel.rate.model != "nr_mcs":
        return ("medium", "packet_size"), f"transport_block needs channel.rate.model nr_mcs (got {scn.channel.rate.model})"
    if scn.medium.downlink_mode == "multicast" and scn.round.mode == "async":
        return ("medium", "downlink_mode"), "multicast needs round.mode sync (async clients download at different times)"
    if scn.channel.interference == "full_load":
        loc = ("channel", "interference")
        if placement.kind != "hex_grid":
            return loc, f"full_load needs clients.placement.kind hex_grid (got {placement.kind})"
        if scn.channel.snr_db is not None:
            return loc, "full_load needs the SNR from geometry; channel.snr_db pins it"
        if scn.channel.trace is not None:
            return loc, "full_load needs the SNR from geometry; channel.trace replays it"
    if scn.channel.trace is not None:
        trace_problem = _trace_problem(scn.channel.trace, scn.clients.count)
        if trace_problem:
            return ("channel", "trace"), trace_problem
    pl = scn.channel.pathloss
    if pl.model in ("umi", "uma") and not pl.env_height_m < min(scn.clients.height_m, scn.cell.bs_height_m):
        return ("channel", "pathloss", "env_height_m"), (
            f"must be below clients.height_m and cell.bs_height_m for {pl.model} (got {pl.env_height_m})"
        )
    return None


# An indoor office's ceiling: InH with a base station above it is no longer an office (the default 10 m is outdoor).
INH_MAX_BS_HEIGHT_M = 6.0
MIN_BANDWIDTH_MHZ = 1e-3  # 1 kHz; a sub-normal bandwidth divides to infinity


def _closest_m(scn: Scenario) -> float:
    """The smallest 3D client-to-antenna distance the placement allows [m]."""
    p = scn.clients.placement
    ground = {"fixed": min(p.distances_m or [0.0]), "ring": p.radius_m}.get(p.kind, p.min_distance_m)
    return math.hypot(ground, scn.cell.bs_height_m - scn.clients.height_m)


def _radio_problem(scn: Scenario) -> tuple[tuple[Any, ...], str] | None:
    """Radio values inside their ranges that the formulas cannot take together."""
    for key in ("bandwidth_mhz", "downlink_bandwidth_mhz"):
        value = getattr(scn.cell, key)
        if value is not None and value < MIN_BANDWIDTH_MHZ:
            return ("cell", key), f"must be at least {MIN_BANDWIDTH_MHZ:g} MHz (got {value:g})"
    pl = scn.channel.pathloss
    fc = scn.cell.carrier_ghz
    if scn.channel.snr_db is None and scn.channel.trace is None:
        carriers = PATHLOSS_MODELS[pl.model].carrier_range_ghz
        if carriers is not None:
            lo, hi = carriers
            if not lo <= fc <= hi:
                return ("cell", "carrier_ghz"), f"{pl.model} path loss is valid for {lo:g} .. {hi:g} GHz (got {fc:g})"
        if pl.model == "inh" and scn.cell.bs_height_m > INH_MAX_BS_HEIGHT_M:
            return ("cell", "bs_height_m"), (
                f"inh is an indoor office with the base station on the ceiling, 3 m in TR 38.901 Table 7.4.1-1; "
                f"at most {INH_MAX_BS_HEIGHT_M:g} m (got {scn.cell.bs_height_m:g})"
            )
        closest = _closest_m(scn)
        if closest <= 0:
            return ("clients", "placement"), (
                "a client can stand on the antenna (3D distance 0: ground distance 0 and clients.height_m = "
                "cell.bs_height_m); the path loss is infinite there"
            )
        # Friis holds in the far field: below lambda / (4 pi) it predicts a gain, not a loss.
        d_ref = pl.reference_m if pl.model == "log_distance" else closest
        far_m = 299_792_458.0 / (fc * 1e9) / (4 * math.pi)
        if pl.model in ("free_space", "log_distance") and (pl.model == "free_space" or pl.reference_loss_db is None) and d_ref < far_m:
            what = "channel.pathloss.reference_m" if pl.model == "log_distance" else "the closest client"
            return ("cell", "carrier_ghz"), (
                f"{fc:g} GHz has its far field beyond {far_m:.3g} m, but {what} is at {d_ref:.3g} m "
                f"({pl.model} would predict a gain)"
            )
    return None


_TRACE_CHECKED: dict[tuple[str, int, int, int], str | None] = {}


def _trace_problem(path: str, clients: int) -> str | None:
    """What is wrong with trace ``path`` for ``clients``, read once per file version (a sweep checks every point)."""
    from channels.trace import read_trace

    try:
        info = Path(path).stat()
        key = (str(Path(path).resolve()), info.st_mtime_ns, info.st_size, clients)
    except OSError:
        key = None
    if key is not None and key in _TRACE_CHECKED:
        return _TRACE_CHECKED[key]
    try:
        read_trace(path, clients)
        problem = None
    except ValueError as err:
        problem = str(err)
    if key is not None:
        _TRACE_CHECKED[key] = problem
    return problem


def _sweep_key_problem(key: str) -> str | None:
    if key == "seed":
        return None
    names = [name for name, _, _ in leaf_fields() if not name.startswith("sweep.")]
    if key in names or any(n.startswith(key + ".") for n in names):
        return None
    close = difflib.get_close_matches(key, names, n=1)
    return "unknown scenario key" + (f" (did you mean {close[0]!r}?)" if close else "")


def sweep_points(scn: Scenario) -> list[dict[str, Any]]:
    """The points of the scenario's sweep block, in results order (see ``sim.config.grid``)."""
    from sim.config.grid import expand

    return expand(scn.sweep.grid, scn.sweep.zip, scn.sweep.seeds, scn.seed)


def _check_sweep(scn: Scenario, data: dict[str, Any], fail: Any) -> ScenarioError | None:
    """Every sweep key must name a scenario field and every point must validate."""
    import copy

    sw = scn.sweep
    for block, entries in (("grid", sw.grid), ("zip", sw.zip)):
        for key, values in entries.items():
            problem = _sweep_key_problem(key)
            if problem is None and not values:
                problem = "needs at least one value"
            for i, v in enumerate(values):
                if problem is None and isinstance(v, float) and not math.isfinite(v):
                    return fail(("sweep", block, key, i), f"must be a finite number (got {v})")
            if problem is None and block == "grid" and key in sw.zip:
                problem = "is in both sweep.grid and sweep.zip"
            if problem:
                return fail(("sweep", block, key), problem)
    lengths = {k: len(v) for k, v in sw.zip.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        return fail(("sweep", "zip"), f"zipped lists differ in length ({shown})")
    n_points = count_points(sw.grid, sw.zip, sw.seeds)
    if n_points > MAX_SWEEP_POINTS:
        return fail(("sweep",), f"{n_points} points; a sweep may have at most {MAX_SWEEP_POINTS} (split it)")
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
            failure = _error(dict(err.errors()[0]))
        if failure is None:
            continue
        dotted, why = _dotted(failure[0]), failure[1]
        # Blame the swept value that produced the bad field, else the whole point.
        for block, entries in (("grid", sw.grid), ("zip", sw.zip)):
            for key, values in entries.items():
                if dotted == key or dotted.startswith(key + ".") or dotted.startswith(key + "["):
                    i = next((j for j, v in enumerate(values) if v == params[key]), 0)
                    detail = why if dotted == key else f"{dotted}: {why}"
                    return fail(("sweep", block, key, i), detail)
        shown = ", ".join(f"{k}={v}" for k, v in params.items())
        return fail(("sweep",), f"point {shown}: {dotted}: {why}")
    return None


def _short(text: str, limit: int = 60) -> str:
    """An echoed value, cut to ``limit`` characters: a message stays one readable line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_limited(path: Path, name: str) -> bytes:
    """The bytes of a regular scenario file of at most MAX_SCENARIO_BYTES (a FIFO or /dev/zero would never end)."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScenarioError(f"{name}: no such file") from None
    except OSError as err:
        raise ScenarioError(f"{name}: cannot read ({err.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"{name}: is a directory, not a scenario file")
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(f"{name}: not a regular file (a pipe or device is not a scenario)")
    if info.st_size > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{name}: {info.st_size} bytes; a scenario file may have at most {MAX_SCENARIO_BYTES}")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_SCENARIO_BYTES + 1)
    except OSError as err:
        raise ScenarioError(f"{name}: cannot read ({err.strerror})") from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{name}: grew past {MAX_SCENARIO_BYTES} bytes while being read")
    return raw


def _check_tree(root: yaml.Node | None, name: str) -> None:
    """Refuse duplicate keys (at the second occurrence's line) and nesting deeper than MAX_YAML_DEPTH.

    Walks each node once, so an alias bomb costs no more than its text.
    """
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_YAML_DEPTH:
            raise ScenarioError(f"{name}:{node.start_mark.line + 1}: nested too deeply (more than {MAX_YAML_DEPTH} levels)")
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    line = key.start_mark.line + 1
                    if key.value in first:
                        raise ScenarioError(
                            f"{name}:{line}: duplicate key {_short(key.value)!r} (first at line {first[key.value]})"
                        )
                    first[key.value] = line
                stack += [(key, depth + 1), (value, depth + 1)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, depth + 1) for item in node.value]


def load_scenario(
    path: str | Path, overrides: list[str] | None = None, sweep: dict[str, Any] | None = None
) -> Scenario:
    """Read, override and validate a scenario file; raise ScenarioError with one line.

    ``sweep`` holds command-line sweep options (``grid``, ``zip`` mappings and
    ``seeds``) laid over the file's ``sweep:`` block, key by key.
    """
    path = Path(path)
    name = str(path)
    raw = _read_limited(path, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{name}: not a text file (invalid UTF-8)") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _check_tree(node, name)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        line = _yaml_error_line(err)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = f"{name}:{line}" if line else name
        raise ScenarioError(f"{where}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise ScenarioError(f"{name}: nested too deeply (more than {MAX_YAML_DEPTH} levels)") from None
    except ValueError as err:  # an integer of thousands of digits (Python's int_max_str_digits)
        raise ScenarioError(f"{name}: a value cannot be read ({_short(str(err))})") from None
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
        raise fail(*_error(dict(err.errors()[0]))) from None
    problem = _check_consistency(scn)
    if problem:
        raise fail(*problem)
    sweep_error = _check_sweep(scn, data, fail)
    if sweep_error:
        raise sweep_error
    return scn


def scenario_to_yaml(scn: Scenario) -> str:
    """The resolved scenario (every default filled in) as YAML, keys in schema order."""
    return yaml.safe_dump(scn.model_dump(mode="json"), sort_keys=False, default_flow_style=None)
