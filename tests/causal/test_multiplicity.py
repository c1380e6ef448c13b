"""Holm and Benjamini-Hochberg against statsmodels' reference implementation."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.causal.multiplicity import adjust_pvalues, benjamini_hochberg, holm


@pytest.mark.parametrize("seed", range(5))
def test_matches_statsmodels(seed):
    p = np.random.default_rng(seed).uniform(0, 0.2, size=12)
    p[3] = p[7]  # a tie
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], atol=1e-15)
    np.testing.assert_allclose(
        benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1], atol=1e-15
    )


def test_known_values():
    assert holm([0.01, 0.02, 0.03]).tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert benjamini_hochberg([0.01, 0.02, 0.03]).tolist() == pytest.approx([0.03, 0.03, 0.03])


def test_invalid_p_values_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])
    with pytest.raises(ValueError, match="adjust"):
        adjust_pvalues([0.1], "sidak")
