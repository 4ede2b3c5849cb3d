"""The README and the docs/ pages are part of the interface: their commands, references and links must stay true."""

import re
from pathlib import Path

import pytest

from sim.core.columns import (ASYNC_CLIENT_COLUMNS, CLIENT_DOC, POSITION_COLUMNS, POSITION_DOC, ROUND_COLUMNS, ROUND_DOC,
                         markdown_table)
from sim.config.scenario import leaf_fields

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
SCENARIOS = (ROOT / "docs" / "scenarios.md").read_text()
RECORDS = (ROOT / "docs" / "records.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_opens_with_the_two_commands():
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1)
    assert [line.split()[:2] for line in block.strip().splitlines()] == [["make", "run"], ["make", "test"]]
    assert "make test" in (Path(__file__).parents[1] / ".ci" / "run").read_text()


def test_every_scenario_key_is_in_the_reference_table():
    missing = [name for name, _, _ in leaf_fields() if f"| `{name}` |" not in SCENARIOS]
    assert not missing, f"docs/scenarios.md's reference lacks {missing}"


def test_the_reference_tables_are_what_the_schema_prints_word_for_word():
    from sim.cli import _schema_markdown

    table = _schema_markdown()
    assert table in SCENARIOS, "docs/scenarios.md's reference differs from `fedwave schema --markdown`; paste its output"
    assert table.count("| `workload.adapter_layers` |") == 2  # fedsoda's and fedbiot's, each with its own meaning


def test_every_record_column_is_documented():
    for col in (*ROUND_COLUMNS, *ASYNC_CLIENT_COLUMNS, *POSITION_COLUMNS):
        assert f"`{col}`" in RECORDS, col


@pytest.mark.parametrize("doc", [ROUND_DOC, CLIENT_DOC, POSITION_DOC], ids=["rounds", "clients", "positions"])
def test_record_tables_are_the_columns_module_word_for_word(doc):
    # The docs' table of each record is sim.core.columns' own, so a column and its meaning live in one place.
    assert markdown_table(doc) in RECORDS


def test_every_results_column_is_documented():
    from sim.store.results import SUMMARY_COLUMNS

    for col in ("point_id", "status", *SUMMARY_COLUMNS, "error"):
        assert f"`{col}`" in RECORDS, col


def _slug(heading: str) -> str:
    """A Markdown heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http:", "https:", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = page.parent / path if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md":
                heads = {_slug(line.lstrip("#")) for line in file.read_text().splitlines() if line.startswith("#")}
                if anchor not in heads:
                    broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


def test_the_readme_points_to_every_docs_page():
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in README, page.name
