import numpy as np
import pytest

from analysis.seeds import int_seed, rng


def test_same_name_same_stream_and_different_names_differ():
    a = rng(42, "checkups", 2023).normal(size=5)
    b = rng(42, "checkups", 2023).normal(size=5)
    c = rng(42, "checkups", 2024).normal(size=5)
    d = rng(43, "checkups", 2023).normal(size=5)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a, d)


def test_streams_do_not_touch_global_state():
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the global state)
    rng(1, "x").normal(size=100)
    np.testing.assert_array_equal(state, np.random.get_state()[1])  # noqa: NPY002


def test_int_seed_is_stable_and_in_range():
    s = int_seed(42, "dml")
    assert s == int_seed(42, "dml")
    assert 0 <= s < 2**31
    assert s != int_seed(42, "forest")


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True])
def test_bad_seed_names_the_parameter(bad):
    with pytest.raises(ValueError, match="seed"):
        rng(bad, "x")
