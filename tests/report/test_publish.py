"""Disclosure control: small-cell suppression (primary and complementary) and scanners."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analysis.report import publish
from analysis.report.publish import (
    COMPLEMENT_MARK,
    check_published_html,
    find_external_references,
    find_identifiers,
    find_small_counts,
    suppress_attrition,
    suppress_small_counts,
)

MIN = 10


def _hidden(out: pd.DataFrame, cols) -> np.ndarray:
    return out[cols].isin(["<10", COMPLEMENT_MARK]).to_numpy()


def _feasible_range(
    values: np.ndarray, hidden: np.ndarray, primary: np.ndarray, i: int, j: int, axes=(0, 1)
):
    """Min and max of cell (i, j) that a reader can derive (reference attacker).

    The reader knows every shown cell, every row and column total of two or more cells
    that is 0 or at least 10, that "<10" means 1..9 and that "x" means at least 10.
    """
    cells = list(zip(*np.nonzero(hidden), strict=True))
    a_eq, b_eq = [], []
    for axis in axes:  # 0: rows, 1: columns
        for line in range(values.shape[axis]):
            full = values[line, :] if axis == 0 else values[:, line]
            if len(full) < 2 or 0 < full.sum() < MIN:
                continue
            members = [c for c in cells if c[axis] == line]
            if members:
                a_eq.append([1.0 if c in members else 0.0 for c in cells])
                b_eq.append(float(sum(values[c] for c in members)))
    if not a_eq:
        return 1, MIN - 1
    bounds = [(1, MIN - 1) if primary[c] else (MIN, None) for c in cells]
    target = np.array([1.0 if c == (i, j) else 0.0 for c in cells])
    lo = linprog(target, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    hi = linprog(-target, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    assert lo.status == 0 and hi.status == 0
    return lo.fun, -hi.fun


def test_primary_suppression_known_values():
    df = pd.DataFrame({"label": list("abcdef"), "n": [0, 1, 9, 10, 11, 12345]})
    out = suppress_small_counts(df, ["n"], complementary=False)
    assert out["n"].tolist() == ["0", "<10", "<10", "10", "11", "12,345"]
    assert out["label"].tolist() == list("abcdef")


def test_input_not_mutated_and_default_columns_are_integers():
    df = pd.DataFrame({"g": ["a", "b"], "n": [3, 40], "m": [25, 31], "rate": [0.1, 0.2]})
    before = df.copy()
    out = suppress_small_counts(df)
    pd.testing.assert_frame_equal(df, before)
    assert out["rate"].tolist() == [0.1, 0.2]  # not a count column: untouched
    assert out["n"].iloc[0] == "<10"


def test_complementary_suppression_blocks_subtraction_on_crafted_table():
    # One small cell: by row and column totals it would be recoverable on its own.
    values = np.array([[120, 60, 30], [160, 50, 3], [240, 110, 60]])
    df = pd.DataFrame(values, columns=["low", "mid", "high"])
    out = suppress_small_counts(df)
    hidden = _hidden(out, ["low", "mid", "high"])
    primary = (values > 0) & (values < MIN)
    assert out.loc[1, "high"] == "<10"
    assert hidden.sum() >= 4  # the small cell plus complements in its row and column
    for line in [*hidden, *hidden.T]:
        assert line.sum() != 1
    for i, j in zip(*np.nonzero(primary), strict=True):
        lo, hi = _feasible_range(values, hidden, primary, i, j)
        assert hi - lo >= 1, (i, j, lo, hi)
    # complementary cells say "x", never "<10" (their value may be 10 or more)
    assert (out.to_numpy() == COMPLEMENT_MARK).sum() == hidden.sum() - primary.sum()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 40), min_size=2, max_size=4), min_size=2, max_size=5).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    )
)
def test_no_suppressed_cell_is_derivable_from_margins(rows):
    values = np.array(rows)
    df = pd.DataFrame(values, columns=[f"c{k}" for k in range(values.shape[1])])
    primary = (values > 0) & (values < MIN)
    try:
        out = suppress_small_counts(df)
    except ValueError as e:
        # refused only when hiding every non-zero count still leaves a small one derivable
        assert "recovered from the both totals" in str(e)
        everything = values > 0
        assert any(
            np.diff(_feasible_range(values, everything, primary, i, j))[0] < 1 - 1e-9
            for i, j in zip(*np.nonzero(primary), strict=True)
        )
        return
    hidden = _hidden(out, list(df.columns))
    assert (hidden >= primary).all()
    for i, j in zip(*np.nonzero(primary), strict=True):
        lo, hi = _feasible_range(values, hidden, primary, i, j)
        assert hi - lo >= 1 - 1e-9, (i, j, lo, hi, out.to_numpy().tolist())
    assert not hidden[values == 0].any()  # zeros are never hidden


def test_known_totals_columns_leaves_rows_alone_and_hides_derived_rates():
    df = pd.DataFrame({"prog": ["a", "b"], "offered": [2950, 640], "enrolled": [412, 96],
                       "completed": [351, 8], "completion_pct": [85.2, 8.3]})  # fmt: skip
    out = suppress_small_counts(df, ["offered", "enrolled", "completed"], known_totals="columns",
                                derived={"completion_pct": "completed"})  # fmt: skip
    assert out["completed"].tolist() == ["x", "<10"]
    assert out["enrolled"].tolist() == ["412", "96"]
    assert out["completion_pct"].tolist() == ["x", "x"]


def test_already_suppressed_strings_are_kept_and_complemented():
    df = pd.DataFrame({"a": ["<10", "120"], "b": ["55", "70"]})
    out = suppress_small_counts(df, ["a", "b"])
    assert out["a"].tolist() == ["<10", "x"]
    assert _hidden(out, ["a", "b"]).sum() == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [([1.5, 20], "not a non-negative whole count"), ([-1, 20], "not a non-negative"),
     ([np.nan, 20], "column 'n' row 0"), (["abc", 20], "'abc'")],
)  # fmt: skip
def test_bad_counts_are_named(values, message):
    with pytest.raises(ValueError, match=message):
        suppress_small_counts(pd.DataFrame({"n": values}), ["n"])


def test_unprotectable_table_is_refused_with_the_cell_named():
    df = pd.DataFrame({"a": [1, 10], "b": [0, 0]})
    with pytest.raises(ValueError, match=r"row 0, column 'a'.*merge small groups"):
        suppress_small_counts(df)


def test_bad_arguments():
    df = pd.DataFrame({"n": [1, 20]})
    with pytest.raises(ValueError, match="not in the table"):
        suppress_small_counts(df, ["m"])
    with pytest.raises(ValueError, match="known_totals"):
        suppress_small_counts(df, known_totals="diagonal")
    with pytest.raises(ValueError, match="min_cell_count"):
        suppress_small_counts(df, min_cell_count=0)


def _attrition(excluded):
    remaining = list(np.cumsum([1000, *[-e for e in excluded[1:]]]))
    return pd.DataFrame({"label": [f"s{k}" for k in range(len(excluded))],
                         "n_remaining": remaining, "n_excluded": excluded})  # fmt: skip


def test_attrition_chain_hides_small_steps_until_undecidable():
    out = suppress_attrition(_attrition([0, 5, 100, 40]))
    assert out["n_excluded"].tolist() == ["0", "<10", "x", "40"]
    assert out["n_remaining"].tolist() == ["1,000", "x", "895", "855"]


def test_attrition_suppression_is_idempotent():
    once = suppress_attrition(_attrition([0, 5, 100, 40, 3]))
    pd.testing.assert_frame_equal(suppress_attrition(once), once)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=7))
def test_attrition_small_exclusions_never_recoverable(tail):
    df = _attrition([0, *tail])
    out = suppress_attrition(df)
    shown_rem = [i for i, v in enumerate(out["n_remaining"]) if v != COMPLEMENT_MARK]
    hidden_exc = [v in ("<10", COMPLEMENT_MARK) for v in out["n_excluded"]]
    for k, e in enumerate(df["n_excluded"]):
        if 0 < e < MIN:
            assert hidden_exc[k]
            # between the shown remaining counts around step k, at least two hidden steps
            before = max(i for i in shown_rem if i < k) if any(i < k for i in shown_rem) else 0
            after = min((i for i in shown_rem if i >= k), default=None)
            if after is not None:
                span = range(before + 1, after + 1)
                assert sum(hidden_exc[i] for i in span) >= 2
                assert sum(df["n_excluded"][i] for i in span) >= MIN


HTML = """<html xmlns="http://www.w3.org/1999/xhtml"><head>
<link rel="stylesheet" href="https://cdn.example.org/x.css">
<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
<script src="data:text/javascript;base64,AAAA"></script>
<style>body { background: url('//img.example.org/bg.png') }</style></head><body>
<table><tr><th>group</th><th>n</th></tr>
<tr><td>a</td><td>7</td></tr><tr><td>b</td><td>&lt;10</td></tr><tr><td>c</td><td>0</td></tr>
<tr><td>d</td><td>1,234</td></tr><tr><td>e</td><td>0.5</td></tr><tr><td>f</td><td>x</td></tr>
<tr><td>g</td><td>-8</td></tr><tr><th>9</th><td>12</td></tr>
</table><p>PX0001 was here, 3 people</p></body></html>"""


def test_find_small_counts_flags_only_small_whole_numbers_in_table_cells():
    found = find_small_counts(HTML)
    assert [f.text for f in found] == ["7"]
    assert "column 'n'" in found[0].location


def test_find_external_references():
    texts = [f.text for f in find_external_references(HTML)]
    assert any("cdn.example.org" in t for t in texts)
    assert any("mathjax" in t for t in texts)
    assert any("img.example.org" in t for t in texts)
    assert not any("w3.org" in t for t in texts)  # a namespace is not fetched
    assert not any("data:" in t for t in texts)
    assert (
        find_external_references("<p>plain https text</p><img src='data:image/png;base64,A'>") == []
    )


def test_find_identifiers_and_check_file(tmp_path):
    assert [f.text for f in find_identifiers(HTML, ids=["PX0001", "PX0002"])] == ["PX0001"]
    assert [f.text for f in find_identifiers(HTML, patterns=[r"PX\d{4}"])] == ["PX0001"]
    path = tmp_path / "r.html"
    path.write_text(HTML, encoding="utf-8")
    kinds = {f.kind for f in check_published_html(path, [r"PX\d{4}"])}
    assert kinds == {"small_count", "identifier", "external_reference"}


@pytest.mark.parametrize(
    ("values", "kwargs", "sensitive"),
    [
        ([100] * 10, {}, False),  # ten equal contributions
        ([6_000_000] + [50_000] * 9, {}, True),  # one dialysis patient among ten
        ([45, 40, 15], {}, False),  # the two largest make exactly 85 %: not more
        ([46, 40, 14], {}, True),  # 86 %
        ([50, 50] + [1] * 20, {}, False),  # the two largest make 100 of 120: 83 %
        ([60, 30, 5], {"n": 1, "k": 0.9}, True),  # (1, 90 %) passes; p %: 5 < 10 % of 60
        ([60, 30, 7], {"n": 1, "k": 0.9}, False),  # 7 ≥ 6: the largest not estimable to 10 %
        ([60, 30, 5], {"n": 1, "k": 0.9, "p": None}, False),  # the (n, k) rule alone
        ([-500, 20, 20, 20], {}, True),  # by size: a refund dominates as much as a cost
        ([0, 0, 0], {}, False),  # a total of 0 discloses nothing
        ([np.nan, 100] + [100] * 9, {}, False),  # missing values contribute nothing
        ([7], {}, True),  # a single contributor
    ],
)
def test_dominance_known_answers(values, kwargs, sensitive):
    assert publish.dominated(values, **kwargs) is sensitive


def test_dominated_cells_by_group_and_bad_arguments():
    d = pd.DataFrame(
        {
            "program": ["a"] * 12 + ["b"] * 12,
            "sex": ["F", "M"] * 12,
            "cost": [10_000] * 12 + [2_000_000, 10_000] + [10_000] * 10,
        }
    )
    cells = publish.dominated_cells(d, "cost", ["program", "sex"])
    assert cells.to_dict() == {("a", "F"): False, ("a", "M"): False, ("b", "F"): True,
                               ("b", "M"): False}  # fmt: skip
    with pytest.raises(ValueError, match="not in the table"):
        publish.dominated_cells(d, "yen", "program")
    for bad in ({"n": 0}, {"k": 1.5}, {"p": 0}):
        with pytest.raises(ValueError, match="dominated"):
            publish.dominated([1, 2, 3], **bad)


def test_nested_counts_hide_an_inner_count_that_a_small_difference_would_reveal():
    df = pd.DataFrame({"invited": [100, 15, 200], "enrolled": [40, 14, 150],
                       "completed": [30, 12, 148]})  # fmt: skip
    cols = ["invited", "enrolled", "completed"]
    out = suppress_small_counts(df, cols, known_totals="columns", nested=cols)
    # 15 invited, 14 enrolled would say that 1 person declined; 150 enrolled, 148 completed
    # that 2 did not complete: the inner counts go, and the column totals need complements.
    assert out.loc[1, "enrolled"] == COMPLEMENT_MARK
    assert out.loc[1, "completed"] == COMPLEMENT_MARK  # 15 - 12 = 3 would show otherwise
    assert out.loc[2, "completed"] == COMPLEMENT_MARK
    assert out.loc[2, "enrolled"] == "150"
    assert (out["enrolled"] == COMPLEMENT_MARK).sum() >= 2  # not derivable from the total
    plain = suppress_small_counts(df, cols, known_totals="columns")
    assert (plain.to_numpy() == COMPLEMENT_MARK).sum() == 0  # nothing under 10 without nesting
    with pytest.raises(ValueError, match="nested columns"):
        suppress_small_counts(df, ["invited", "enrolled"], known_totals="columns", nested=cols)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)),
                     min_size=2, max_size=6))  # fmt: skip
def test_no_two_shown_nested_counts_differ_by_a_small_number(rows, small_differences):
    values = np.sort(np.array(rows), axis=1)[:, ::-1]  # invited >= enrolled >= completed
    cols = ["invited", "enrolled", "completed"]
    df = pd.DataFrame(values, columns=cols)
    try:
        out = suppress_small_counts(df, cols, known_totals="columns", nested=cols)
    except publish.UnprotectableTable:
        return  # refused as a whole (the caller hides every count)
    assert not small_differences(out, cols), values.tolist()


@pytest.mark.parametrize(("cell", "value"),
                         [("1,234", 1234), (12, 12), ("40", 40), ("<10", None), ("x", None),
                          ("", None), (float("nan"), None)])  # fmt: skip
def test_shown_count_reads_a_published_count_cell(cell, value):
    from analysis.report.publish import shown_count

    assert shown_count(cell) == value
