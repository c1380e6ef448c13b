"""Keyed pseudonyms: HMAC-SHA256 as in RFC 2104, key handling, no leaks."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.config import PSEUDONYM_KEY_ENV
from analysis.data.pseudonym import PSEUDONYM_HEX_DIGITS, Pseudonymiser, key_from_env
from analysis.errors import UserError

KEY = "test key for pseudonyms, 32 chars"


def reference(key: bytes, kind: str, value: str) -> str:
    msg = f"{kind}\x1f{value}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_DIGITS]


@given(st.text(min_size=1, max_size=40), st.sampled_from(["person", "household", "claim"]))
def test_matches_the_standard_library_hmac(value, kind):
    p = Pseudonymiser(KEY)
    assert p.one(kind, value) == reference(KEY.encode(), kind, value)
    assert p.many(kind, [value, value]) == [p.one(kind, value)] * 2


def test_long_keys_are_hashed_first_as_in_rfc2104():
    key = "k" * 100
    assert Pseudonymiser(key).one("person", "123") == reference(key.encode(), "person", "123")


def test_kinds_and_keys_separate_name_spaces():
    p, q = Pseudonymiser(KEY), Pseudonymiser(KEY + "!")
    assert p.one("person", "001") != p.one("household", "001")
    assert p.one("person", "001") != q.one("person", "001")
    with pytest.raises(ValueError, match="kind"):
        p.one("name", "001")


def test_array_keeps_nulls_and_order():
    p = Pseudonymiser(KEY)
    out = p.array("person", pa.array(["a", None, "b", "a"])).to_pylist()
    assert out == [p.one("person", "a"), None, p.one("person", "b"), p.one("person", "a")]
    distinct = p.array("claim", pa.array(["a", "b", "a"]), distinct=True).to_pylist()
    assert distinct == p.many("claim", ["a", "b", "a"])


def test_key_from_env_refuses_missing_or_short_keys_without_showing_them():
    with pytest.raises(UserError, match=PSEUDONYM_KEY_ENV):
        key_from_env({})
    with pytest.raises(UserError, match="at least") as e:
        key_from_env({PSEUDONYM_KEY_ENV: "short-secret"})
    assert "short-secret" not in str(e.value)
    p = key_from_env({PSEUDONYM_KEY_ENV: KEY})
    assert KEY not in repr(p)
    assert p.one("person", "x") == reference(KEY.encode(), "person", "x")
