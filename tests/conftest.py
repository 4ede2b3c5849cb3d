"""Shared helpers: scenarios built in code, runs in temporary folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.config.scenario import Scenario


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.fixture
def write_yaml(tmp_path: Path):
    def write(data: Any, name: str = "scn.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write


def scenario(**sections: Any) -> Scenario:
    return Scenario.model_validate(sections)


@pytest.fixture(scope="session", autouse=True)
def fedwave_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh cache folder per test run: tiny bases are pretrained at most once per run, never read from
    an earlier one.  Converted pretrained models (SmolLM2, Gemma3) are linked in from the user's cache,
    since rebuilding them costs minutes and they do not change."""
    from workloads.cache import cache_root

    real = cache_root()
    root = tmp_path_factory.mktemp("fedwave-cache")
    if real.is_dir():
        for item in real.iterdir():
            if item.name != "tiny-bases" and not item.name.startswith("."):
                (root / item.name).symlink_to(item.resolve())
    old = os.environ.get("FEDWAVE_CACHE")
    os.environ["FEDWAVE_CACHE"] = str(root)
    yield root
    if old is None:
        os.environ.pop("FEDWAVE_CACHE", None)
    else:
        os.environ["FEDWAVE_CACHE"] = old
