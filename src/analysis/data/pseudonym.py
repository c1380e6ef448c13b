"""Keyed pseudonymisation of identifiers (HMAC-SHA256).

Real person, household and claim numbers are replaced on import by
``HMAC-SHA256(key, kind + "\\x1f" + id)``, written as the first 32 hex digits (128 bits).
The key comes from the environment variable ``MVM_EVAL_PSEUDONYM_KEY`` and is never
written out; the same key links the same person across files and years, and without it
the pseudonyms cannot be reversed or recomputed. The ``kind`` prefix keeps the person,
household and claim name spaces apart.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from analysis.config import PSEUDONYM_KEY_ENV
from analysis.errors import UserError

MIN_KEY_LENGTH = 16
"""Shortest key accepted (characters); a short key can be guessed."""

PSEUDONYM_HEX_DIGITS = 32

KINDS = ("person", "household", "claim")


class Pseudonymiser:
    """Replace identifiers by keyed hashes.

    Parameters
    ----------
    key : str or bytes
        The secret key (at least ``MIN_KEY_LENGTH`` characters).

    Examples
    --------
    >>> p = Pseudonymiser("an example key, not a real one")
    >>> p.one("person", "0012345") == p.one("person", "0012345")
    True
    >>> p.one("person", "0012345") == p.one("household", "0012345")
    False
    """

    def __init__(self, key: str | bytes):
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if len(raw) < MIN_KEY_LENGTH:
            raise UserError(
                f"{PSEUDONYM_KEY_ENV}: the pseudonymisation key must be at least "
                f"{MIN_KEY_LENGTH} characters"
            )
        if len(raw) > 64:
            raw = hashlib.sha256(raw).digest()
        block = raw.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:
        return "<Pseudonymiser key=***>"

    def one(self, kind: str, value: str) -> str:
        """The pseudonym of one identifier (HMAC-SHA256, RFC 2104)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        inner = self._inner.copy()
        inner.update(f"{kind}\x1f{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:PSEUDONYM_HEX_DIGITS]

    def many(self, kind: str, values: Iterable[str]) -> list[str]:
        """Pseudonyms of many identifiers, in order (same result as :meth:`one`)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        inner = self._inner.copy()
        inner.update(f"{kind}\x1f".encode())
        outer, n = self._outer, PSEUDONYM_HEX_DIGITS
        out = []
        append = out.append
        for v in values:
            i = inner.copy()
            i.update(v.encode())
            o = outer.copy()
            o.update(i.digest())
            append(o.hexdigest()[:n])
        return out

    def array(
        self, kind: str, values: pa.Array | pa.ChunkedArray, *, distinct: bool = False
    ) -> pa.Array:
        """Pseudonymise an Arrow string array; nulls stay null.

        Each distinct id is hashed once; pass ``distinct=True`` when the values are
        (nearly) all different, such as claim numbers, to skip the deduplication.
        """
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if distinct and values.null_count == 0:
            return pa.array(self.many(kind, values.to_pylist()), type=pa.string())
        encoded = pc.dictionary_encode(values)
        uniques = encoded.dictionary.to_pylist()
        hashed = pa.array(self.many(kind, uniques), type=pa.string())
        return hashed.take(encoded.indices)


def key_from_env(environ: dict | None = None) -> Pseudonymiser:
    """The pseudonymiser for the key in ``MVM_EVAL_PSEUDONYM_KEY``.

    Raises
    ------
    UserError
        If the variable is unset, empty or too short (the message never shows the key).
    """
    env = os.environ if environ is None else environ
    key = env.get(PSEUDONYM_KEY_ENV, "")
    if not key:
        raise UserError(
            f"{PSEUDONYM_KEY_ENV} is not set: real data is never imported without a "
            "pseudonymisation key (keep the same key to link people across imports)"
        )
    return Pseudonymiser(key)
