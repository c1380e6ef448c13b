"""One seed per run, spread into independent named streams.

Every random step derives its generator from the run seed and a stable name, so that
adding a step never changes the numbers another step draws, and nothing touches NumPy's
global state.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def seed_sequence(seed: int, *names: str | int) -> np.random.SeedSequence:
    """Return the ``SeedSequence`` for ``seed`` and a path of stream names.

    Parameters
    ----------
    seed : int
        The run seed (non-negative).
    *names : str or int
        Stream path, e.g. ``("simulate", "checkups", 2023)``.

    Raises
    ------
    ValueError
        If ``seed`` is negative or not an integer.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    keys = [n if isinstance(n, (int, np.integer)) else _key(str(n)) for n in names]
    return np.random.SeedSequence([int(seed), *[int(k) for k in keys]])


def rng(seed: int, *names: str | int) -> np.random.Generator:
    """A ``numpy.random.Generator`` for the named stream of a run seed.

    Examples
    --------
    >>> a = rng(42, "checkups").normal()
    >>> b = rng(42, "checkups").normal()
    >>> a == b
    True
    """
    return np.random.default_rng(seed_sequence(seed, *names))


def int_seed(seed: int, *names: str | int) -> int:
    """A 31-bit integer seed for libraries that take ``random_state=int`` (sklearn, econml)."""
    return int(seed_sequence(seed, *names).generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)
