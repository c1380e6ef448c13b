"""EffectResult display and export; combine_results."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from analysis.causal.diagnostics import Check, Diagnostics
from analysis.causal.multiplicity import holm
from analysis.causal.result import FRAME_COLUMNS, EffectResult, combine_results


def result(p=0.01, passed=True, outcome="cost_yen", estimate=-1234.5):
    check = Check(
        "balance_max_abs_smd",
        0.05 if passed else 0.2,
        0.1,
        passed,
        "max |SMD| < 0.1 after adjustment",
    )
    return EffectResult(
        estimate=estimate,
        se=500.0,
        ci_low=estimate - 980,
        ci_high=estimate + 980,
        p_value=p,
        n_treated=64,
        n_control=5000,
        method="aipw",
        estimand="ATT",
        outcome=outcome,
        treatment="vitality",
        diagnostics=Diagnostics((check,)),
    )


def test_repr_is_one_line_with_the_key_facts():
    text = repr(result())
    assert "\n" not in text
    assert text.startswith('<EffectResult method="aipw" estimand="ATT" outcome="cost_yen"')
    assert "estimate=-1234" in text and text.endswith("passed=True>")


def test_to_frame_is_one_tidy_row():
    frame = result(passed=False).to_frame()
    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) == 1
    assert frame.loc[0, "failed_checks"] == "balance_max_abs_smd"
    assert not frame.loc[0, "passed"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_summary_renders_everywhere(lang):
    s = result().summary(lang=lang)
    for text in (str(s), s._repr_html_(), s._repr_markdown_(), s.to_latex()):
        assert "-1,234.50" in text
        assert "64" in text and "5,000" in text
    assert ("推定値" in str(s)) == (lang == "ja")
    assert "\\begin{tabular}" in s.to_latex()
    # the '|' inside the rule must not break the markdown table
    assert "\\|SMD\\|" in s._repr_markdown_()


def test_failed_summary_names_the_failed_check():
    s = result(passed=False).summary(lang="en")
    assert "Withheld" in s.footer and "max |SMD| < 0.1" in s.footer


def test_summary_rejects_unknown_language():
    with pytest.raises(ValueError, match="lang"):
        result().summary(lang="fr")


def test_plot_returns_axes():
    ax = result().plot()
    assert ax.get_xlabel() == "cost_yen"


def test_combine_results_adjusts_p_values():
    rs = [result(p=p, outcome=f"o{i}") for i, p in enumerate([0.01, 0.04, 0.03])]
    table = combine_results(rs, adjust="holm")
    np.testing.assert_allclose(table.p_value_adjusted, holm([0.01, 0.04, 0.03]))
    assert list(table.outcome) == ["o0", "o1", "o2"]
    bh = combine_results(rs, adjust="bh")
    assert (bh.p_value_adjusted <= table.p_value_adjusted + 1e-12).all()
    with pytest.raises(ValueError, match="adjust"):
        combine_results(rs, adjust="bonferroni")
    with pytest.raises(ValueError, match="EffectResult"):
        combine_results([pd.DataFrame()])
