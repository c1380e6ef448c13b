import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.cohort.attrition import Attrition


def _record(counts):
    a = Attrition("demo")
    for i, n in enumerate(counts):
        a = a.add(f"s{i}", f"手順{i}", f"step {i}", n)
    return a


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=12))
def test_adds_up_at_every_step(values):
    counts = sorted(values, reverse=True)
    df = _record(counts).to_frame()
    assert list(df["remaining"]) == counts
    assert df["excluded"].iloc[0] == 0
    assert (df["remaining"].shift(1)[1:] - df["excluded"][1:] == df["remaining"][1:]).all()
    assert list(df["step"]) == list(range(len(counts)))


def test_refuses_growth_and_negative_counts():
    a = _record([100, 80])
    with pytest.raises(ValueError, match="within 0..80"):
        a.add("more", "増加", "grow", 81)
    with pytest.raises(ValueError, match="within"):
        a.add("neg", "負", "negative", -1)


def test_languages_and_suppression():
    a = _record([120, 115, 9, 0])
    assert list(a.to_frame("ja")["description"]) == ["手順0", "手順1", "手順2", "手順3"]
    assert list(a.to_frame("en")["description"])[-1] == "step 3"
    pub = a.published(min_cell_count=10, lang="en")
    assert pub["remaining"].isna().tolist() == [False, False, True, False]  # 9 hidden, 0 kept
    assert pub["excluded"].isna().tolist() == [False, True, False, True]  # 5 and 9 hidden
    with pytest.raises(ValueError, match="lang"):
        a.to_frame("fr")


def test_summary_displays_and_plot_draws_every_step():
    a = _record([120, 100, 90])
    s = a.summary("en")
    assert "Attrition: demo" in str(s) and "<table" in s._repr_html_()
    assert s._repr_markdown_().count("\n| ") == 1 + 3  # header and one line per step
    assert "tabular" in s.to_latex()
    for lang in ("ja", "en"):
        ax = a.plot(lang=lang)
        texts = [t.get_text() for t in ax.texts if t.get_text()]
        # one box per step for the people remaining, one side box per exclusion
        assert len(texts) == 3 + 2
        assert any("n = 120" in t for t in texts) and any("n = 10" in t for t in texts)
        plt.close(ax.figure)
    ax = a.add("tiny", "少数", "tiny", 5).plot(lang="en", min_cell_count=10)
    assert any("<10" in t.get_text() for t in ax.texts)
    plt.close(ax.figure)
    assert repr(a) == "<Attrition spec='demo' steps=3 final=90>"
    assert isinstance(a.to_frame(), pd.DataFrame)


def test_flow_diagram_redraws_in_the_other_language_with_the_same_suppression():
    a = _record([120, 100, 5])
    ax = a.plot(lang="ja", min_cell_count=10)
    fig = ax.figure
    assert fig.edition_lang == "ja"
    other = fig.redraw_in("en")
    ja_texts = " ".join(t.get_text() for t in ax.texts)
    en_texts = " ".join(t.get_text() for t in other.texts)
    assert "手順1" in ja_texts and "step 1" not in ja_texts
    assert "step 1" in en_texts and "手順" not in en_texts
    assert "<10" in en_texts and "n = 5" not in en_texts  # suppression kept in the edition
    plt.close(fig)
    plt.close(other.figure)
