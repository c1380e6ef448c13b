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


def test_design_results_share_the_display_scaffolding():
    import matplotlib.pyplot as plt

    from analysis.causal import benchmark as bench
    from analysis.causal import iv_effect, weighted_cox, weighted_km
    from analysis.causal.result import DesignEffect, DesignResult

    iv = iv_effect(
        bench.simulate_letter(1000, 1), instrument="letter", treatment="joined", outcome="steps"
    )
    times = bench.simulate_event_times(400, 1)
    cox = weighted_cox(times, duration="days", event="event", treatment="t")
    km = weighted_km(times, duration="days", event="event", treatment="t")
    for r in (iv, cox):
        assert isinstance(r, DesignEffect)
        assert r.ci() == (r.ci_low, r.ci_high) and r.passed == r.diagnostics.passed
        eff = r.as_effect_result()
        assert (eff.estimate, eff.se, eff.ci(), eff.p_value) == (
            r.estimate,
            r.se,
            r.ci(),
            r.p_value,
        )
        assert eff.diagnostics is r.diagnostics and eff.method == r.method
    assert isinstance(km, DesignResult) and not isinstance(km, DesignEffect)
    # default decimals: 2 for the IV result, 3 for the survival results
    assert str(iv.summary()) == str(iv.summary(decimals=2)) != str(iv.summary(decimals=4))
    assert str(cox.summary()) == str(cox.summary(decimals=3)) != str(cox.summary(decimals=1))
    assert str(km.summary(lang="en")) == str(km.summary(decimals=3, lang="en"))
    ax = iv.plot()
    assert tuple(ax.figure.get_size_inches()) == (5, 2.5)
    plt.close(ax.figure)
