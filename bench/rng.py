"""Deterministic random draws in bulk, as polars Series.

numpy is not a dependency of the project, and drawing millions of values one by one in Python is slow, so
every draw here takes one `randbytes` call (fast, and reproducible for a given seed on every platform and
Python version, because it is built on `getrandbits`) and turns the bytes into a polars Series. Anything
non-trivial — categorical draws, permutations — is then done with polars expressions on those Series.
"""

from __future__ import annotations

import array
import random
import sys
from collections.abc import Sequence

import polars as pl

_U32 = 2.0**32


class Draws:
    """A seeded source of vectorised random values; the same seed always yields the same Series."""

    def __init__(self, seed: str | int) -> None:
        # A str seed is hashed with SHA-512 by `random.seed` (version 2), so it does not depend on
        # PYTHONHASHSEED: "42:base" and "42:churn" give independent, reproducible streams.
        self._random = random.Random(str(seed))

    def u32(self, n: int) -> pl.Series:
        """`n` uniform unsigned 32-bit integers."""
        words = array.array("I")
        assert words.itemsize == 4, "array('I') must be 32-bit on this platform"
        words.frombytes(self._random.randbytes(4 * n))
        if sys.byteorder == "big":
            # Byte order is fixed so a seed gives the same data on every machine.
            words.byteswap()
        return pl.Series("u32", words, dtype=pl.UInt32)

    def uniform(self, n: int) -> pl.Series:
        """`n` floats, uniform on [0, 1)."""
        return (self.u32(n).cast(pl.Float64) / _U32).alias("uniform")

    def below(self, n: int, bound: int | pl.Series) -> pl.Series:
        """`n` integers uniform on [0, bound); `bound` may be one number or a Series of per-row bounds."""
        scaled = self.uniform(n) * bound
        return scaled.floor().cast(pl.Int64).alias("below")

    def bernoulli(self, n: int, p: float | pl.Series) -> pl.Series:
        """`n` booleans, each true with probability `p` (a number or a Series of per-row probabilities)."""
        return (self.uniform(n) < p).alias("bernoulli")

    def categorical(self, n: int, weights: Sequence[float]) -> pl.Series:
        """`n` indexes into `weights`, drawn in proportion to the weights."""
        return block_choice(self.uniform(n), pl.Series([0] * n, dtype=pl.Int64), cumulative_keys([weights]))

    def permutation(self, n: int) -> pl.Series:
        """A random permutation of 0..n-1: positions sorted by random keys, ties broken by position."""
        frame = pl.DataFrame({"key": self.u32(n)}).with_row_index("position")
        return frame.sort(["key", "position"])["position"].cast(pl.Int64).alias("permutation")


def cumulative_keys(blocks: Sequence[Sequence[float]]) -> pl.Series:
    """Search keys for drawing within blocks of weights (see `block_choice`).

    Block b's entries get keys b + F, where F is the running share of the block's total weight up to and
    including the entry; the last key of every block is exactly b + 1, so a draw b + u (0 <= u < 1) can never
    leave its block.
    """
    keys: list[float] = []
    for block_index, weights in enumerate(blocks):
        total = float(sum(weights))
        if total <= 0:
            raise ValueError(f"block {block_index} has no positive weight")
        running = 0.0
        for weight in weights:
            running += weight
            keys.append(block_index + running / total)
        keys[-1] = float(block_index + 1)
    return pl.Series("key", keys, dtype=pl.Float64)


def block_choice(uniform: pl.Series, block: pl.Series, keys: pl.Series) -> pl.Series:
    """For each row, the global index of an entry drawn by weight from the row's block.

    One `search_sorted` does every row at once: the query block + u lands inside that block's key range.
    """
    query = block.cast(pl.Float64) + uniform
    return keys.search_sorted(query, side="right").cast(pl.Int64).alias("choice")
