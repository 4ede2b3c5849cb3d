"""Choices read from their owner's table at validation: the registries and policy tables are the only lists of names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

__all__ = ["OneOf", "names"]


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


def names(table: Iterable[str]) -> OneOf:
    """A OneOf over a fixed table (a module's tuple of policy names)."""
    fixed = tuple(table)
    return OneOf(lambda: fixed)
