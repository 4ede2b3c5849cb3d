"""The README is part of the interface: its commands and references must stay true."""

import re
from pathlib import Path

import pytest

from sim.core.columns import (ASYNC_CLIENT_COLUMNS, CLIENT_DOC, POSITION_COLUMNS, POSITION_DOC, ROUND_COLUMNS, ROUND_DOC,
                         markdown_table)
from sim.config.scenario import leaf_fields

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_readme_opens_with_the_two_commands():
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert [line.split()[:2] for line in block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    assert "make test" in (Path(__file__).parents[1] / ".ci" / "run").read_text()


def test_every_scenario_key_is_in_the_reference_table():
    missing = [name for name, _, _ in leaf_fields() if f"| `{name}` |" not in README]
    assert not missing, f"README scenario reference lacks {missing}"


def test_the_reference_tables_are_what_the_schema_prints_word_for_word():
    from sim.cli import _schema_markdown

    table = _schema_markdown()
    assert table in README, "README scenario reference differs from `fedwave schema --markdown`; paste its output"
    assert table.count("| `workload.adapter_layers` |") == 2  # fedsoda's and fedbiot's, each with its own meaning


def test_every_record_column_is_documented():
    for col in (*ROUND_COLUMNS, *ASYNC_CLIENT_COLUMNS, *POSITION_COLUMNS):
        assert f"`{col}`" in README, col


@pytest.mark.parametrize("doc", [ROUND_DOC, CLIENT_DOC, POSITION_DOC], ids=["rounds", "clients", "positions"])
def test_record_tables_are_the_columns_module_word_for_word(doc):
    # The README's table of each record is sim.core.columns' own, so a column and its meaning live in one place.
    assert markdown_table(doc) in README


def test_every_results_column_is_documented():
    from sim.store.results import SUMMARY_COLUMNS

    for col in ("point_id", "status", *SUMMARY_COLUMNS, "error"):
        assert f"`{col}`" in README, col
