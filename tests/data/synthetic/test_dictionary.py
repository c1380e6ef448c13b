"""data/README.md is the data dictionary generated from the contract."""

from __future__ import annotations

from pathlib import Path

from analysis.data.contract import TABLES
from analysis.data.synthetic import dictionary

README = Path(__file__).resolve().parents[3] / "data" / "README.md"


def test_committed_readme_equals_the_generated_text():
    assert README.read_text(encoding="utf-8") == dictionary.render(), (
        "data/README.md is out of date: run "
        "`python -m analysis.data.synthetic.dictionary data/README.md`"
    )


def test_every_table_and_column_is_documented_with_its_japanese_name():
    text = dictionary.render()
    for t in TABLES.values():
        assert f"### `{t.name}` ({t.ja})" in text
        for c in t.columns:
            assert c.ja, f"{t.name}.{c.name} has no Japanese item name"
            assert f"| `{c.name}` | {c.ja} |" in text


def test_write_round_trips(tmp_path):
    dictionary.write(tmp_path / "README.md")
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == dictionary.render()


def test_every_numeric_column_has_a_unit_unless_listed_as_unitless():
    text = dictionary.render()
    for t in TABLES.values():
        for c in t.columns:
            key = f"{t.name}.{c.name}"
            if c.kind not in ("int", "float") or key in dictionary.UNITLESS:
                continue
            u = dictionary.unit(t.name, c)
            assert u, f"{key} has no unit"
            assert f"| `{c.name}` | {c.ja} | {c.en} | {c.kind} | {u} |" in text, key
    assert dictionary.unit("claims", TABLES["claims"].column("days")) == "日"
