"""Model versus rule-based ranking, observed risk by group, summary display."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.risk import observed_risk_by_group, rule_comparison
from analysis.risk.display import Summary, markdown_table
from analysis.risk.metrics import km_risk

from .conftest import simulate_cox


def test_finer_ranking_beats_coarse_rule_levels():
    df = simulate_cox(3000, 61)
    cut = np.quantile(df.true_lp, [0.5, 0.8])
    levels = pd.Series(
        np.select([df.true_lp >= cut[1], df.true_lp >= cut[0]], ["active", "motivational"],
                  "information"), index=df.index,
    )  # fmt: skip
    out = rule_comparison(df, duration="time", event="event", horizon=3,
                          scores={"true": df.true_lp, "rules": levels})  # fmt: skip
    c = out.set_index("score").harrell_c
    assert c["true"] > c["rules"] > 0.55
    with pytest.raises(ValueError, match="unknown"):
        rule_comparison(
            df, duration="time", event="event", scores={"x": levels.replace("active", "?")}
        )


def test_observed_risk_by_group_matches_km():
    df = simulate_cox(2000, 62)
    out = observed_risk_by_group(df, df.sex, duration="time", event="event", horizon=3)
    assert out.group.tolist() == ["F", "M"]
    m = df.sex == "M"
    assert out.set_index("group").loc["M", "observed_risk"] == pytest.approx(
        km_risk(df.time[m], df.event[m], 3)[0]
    )
    assert out.n.sum() == len(df)


def test_summary_renders_all_formats():
    table = pd.DataFrame({"coef": [0.1234, np.nan]}, index=pd.Index(["a", "b"], name="term"))
    s = Summary("T", [("n", 5)], [("Coefficients", table)], ["note"], decimals=2)
    md = s._repr_markdown_()
    assert "| term | coef |" in md and "| a | 0.12 |" in md and "| b |  |" in md
    assert "<table" in s._repr_html_() and "note" in s._repr_html_()
    assert "\\begin{table}" in s.to_latex() or "\\begin{tabular}" in s.to_latex()
    assert str(s).startswith("T\n=")
    assert markdown_table(pd.DataFrame({"x": [1]})).splitlines()[0] == "| x |"


@pytest.mark.parametrize("dtype", ["string", "category", object])
def test_rule_levels_of_any_text_dtype_are_ranked(dtype):
    df = simulate_cox(1500, 63)
    cut = np.quantile(df.true_lp, [0.5, 0.8])
    raw = np.select([df.true_lp >= cut[1], df.true_lp >= cut[0]], ["active", "motivational"],
                    "information")  # fmt: skip
    levels = pd.Series(raw, index=df.index, dtype=dtype)
    ranks = pd.Series(raw, index=df.index).map({"information": 0, "motivational": 1, "active": 2})
    out = rule_comparison(df, duration="time", event="event", horizon=3,
                          scores={"rules": levels, "ranks": ranks})  # fmt: skip
    c = out.set_index("score").harrell_c
    assert c["rules"] == pytest.approx(c["ranks"]) and c["rules"] > 0.55
    with pytest.raises(ValueError, match="'rules'"):
        rule_comparison(df, duration="time", event="event",
                        scores={"rules": levels.astype(object).replace("active", "?")})  # fmt: skip
