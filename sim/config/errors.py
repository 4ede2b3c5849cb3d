"""The error of a scenario that cannot be run, apart from the schema: a command names it before it loads one."""

from __future__ import annotations

__all__ = ["ScenarioError"]


class ScenarioError(Exception):
    """A scenario that cannot be run; ``str(err)`` is the one-line message."""
