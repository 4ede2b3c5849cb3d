"""The scenario's ``workload`` section: the registered algorithms' config classes as one union on ``algorithm``.

Each algorithm's config (a :class:`workloads.config.WorkloadConfig`
subclass) is named by its registration; :func:`workload_field` composes the
classes registered now into a pydantic field discriminated by the
``algorithm`` key (default ``none``), and ``sim.config.schema.Scenario`` rebuilds
the field when the registry changes, so a plugin registered before a
scenario is validated is selectable.  A name no one registered goes to a
stand-in that fails on ``algorithm`` exactly as a choice does.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from sim.config.choices import OneOf
from workloads import base as registry
from workloads.base import available as registered_algorithms
from workloads.config import LMConfig, WorkloadConfig

__all__ = [
    "UNREGISTERED", "default_workload", "workload_configs", "workload_field", "workload_json_schema", "algorithm_description",
    "workload_groups", "own_fields", "workload_row",
]

# The tag of a workload whose algorithm no one registered: it fails on ``algorithm`` as a choice does.
UNREGISTERED = "(unregistered)"


class _Unregistered(BaseModel):
    model_config = ConfigDict(extra="ignore")

    algorithm: Annotated[str, OneOf(registered_algorithms)] = "none"

    @model_validator(mode="before")
    @classmethod
    def _a_section(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        return value


def workload_configs() -> dict[str, type[WorkloadConfig]]:
    """Every selectable algorithm and its config class, as the registry holds them now."""
    return {name: registry.config_class(name) for name in registered_algorithms()}


def default_workload() -> WorkloadConfig:
    """The workload of a scenario that names none: ``algorithm: none`` with its defaults."""
    return registry.config_class("none")()


def workload_field(configs: dict[str, type[WorkloadConfig]]) -> FieldInfo:
    """``workload``: the ``configs`` as one union, discriminated by ``algorithm`` (default none)."""
    tags = frozenset(configs)

    def algorithm_of(value: Any) -> str:
        name = value.get("algorithm", "none") if isinstance(value, dict) else getattr(value, "algorithm", None)
        return name if isinstance(name, str) and name in tags else UNREGISTERED

    choices = tuple(Annotated[cls, Tag(name)] for name, cls in configs.items()) + (
        Annotated[_Unregistered, Tag(UNREGISTERED)],
    )
    union: Any = Annotated[typing.Union[choices], Discriminator(algorithm_of)]  # type: ignore[valid-type]
    return FieldInfo.from_annotated_attribute(
        union, Field(default_factory=default_workload, description="what is learned and sent")
    )


def workload_json_schema(schema: dict[str, Any], configs: dict[str, type[WorkloadConfig]]) -> dict[str, Any]:
    """``schema`` (a Scenario JSON Schema) with ``workload`` as any of the configs, each once, its ``algorithm``
    limited to its names, and the unregistered stand-in left out."""
    defs = schema.get("$defs", {})
    defs.pop(_Unregistered.__name__, None)
    names_of: dict[str, list[str]] = {}
    for name, cls in configs.items():
        names_of.setdefault(cls.__name__, []).append(name)
    for title, names in names_of.items():
        if title in defs:
            defs[title]["properties"]["algorithm"] = {"enum": names, "type": "string"}
    prop = schema["properties"]["workload"]
    prop.pop("oneOf", None)
    prop["anyOf"] = [{"$ref": f"#/$defs/{title}"} for title in names_of]
    prop["properties"] = {"algorithm": {"enum": list(configs), "type": "string", "default": "none"}}
    return schema


def algorithm_description() -> str:
    """The description of ``workload.algorithm``: every registered name with its summary."""
    names = sorted(workload_configs(), key=lambda n: (n != "none", n))
    parts = [f"{n} = {registry.summary(n)}" if registry.summary(n) else n for n in names]
    return "federated algorithm, any name registered with workloads.register: " + "; ".join(parts)


def workload_groups() -> list[tuple[type[WorkloadConfig], list[str]]]:
    """Each config class with the algorithms that use it, in class-tree order (root, none, LM base, ...).

    A class's own keys are those its parent lacks; the root's keys apply to every algorithm.
    """
    classes: dict[type[WorkloadConfig], list[str]] = {WorkloadConfig: [], LMConfig: []}
    for name, cls in sorted(workload_configs().items()):
        classes.setdefault(cls, []).append(name)
        for base in cls.__mro__[1:]:  # an intermediate base no algorithm registers (OffsiteConfig) has keys too
            if isinstance(base, type) and issubclass(base, WorkloadConfig):
                classes.setdefault(base, [])
    for cls in list(classes):  # the users of a base also use what it declares
        for base in cls.__mro__[1:]:
            if base in classes and base is not cls:
                classes[base] = sorted(set(classes[base]) | set(classes[cls]))
    order = sorted(classes, key=lambda c: (len(c.__mro__), c is not registry.config_class("none"), c.__name__))
    return [(cls, classes[cls]) for cls in order]


def own_fields(cls: type[WorkloadConfig]) -> list[str]:
    """The keys ``cls`` declares beyond its parent config."""
    parent = next((b for b in cls.__mro__[1:] if isinstance(b, type) and issubclass(b, WorkloadConfig)), None)
    inherited = set(parent.model_fields) if parent is not None else set()
    return [k for k in cls.model_fields if k not in inherited]


def workload_row(cls: type[WorkloadConfig], name: str, prefix: str) -> tuple[str, Any, str]:
    """``(prefix + name, default, description)`` of key ``name`` of ``cls`` (the algorithm list for ``algorithm``)."""
    field = cls.model_fields[name]
    desc = algorithm_description() if cls is WorkloadConfig and name == "algorithm" else field.description or ""
    return f"{prefix}{name}", field.get_default(call_default_factory=True), desc


