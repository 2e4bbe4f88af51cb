"""Coded tables: the compact form ``make data`` stores a large census table in, and the
one-hot float32 inputs made from it once and memory-mapped afterwards.

A coded table is one ``.npz``: the numeric columns (float32), each text column as integer
codes into its sorted vocabulary, and, for a data set with its own test split, which rows
are test rows. The first load one-hot encodes the input columns into a float32 ``.npy``
beside it (written atomically; its name carries the ``.npz``'s size and time, so a fresh
fetch makes a fresh cache); later loads memory-map that file, so a 300,000-row table opens
in well under a second.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .files import FileDataset

CACHE_VERSION = 1


def write_coded(path: Path, frame: pd.DataFrame, numeric: list[str], categorical: list[str],
                test_rows: np.ndarray | None = None) -> None:
    """Store ``frame`` as a coded table at ``path`` (an ``.npz``, compressed)."""
    arrays: dict[str, np.ndarray] = {
        "numeric_names": np.array(numeric, dtype=str),
        "categorical_names": np.array(categorical, dtype=str),
        "numeric": frame[numeric].to_numpy(dtype=np.float32) if numeric
        else np.zeros((len(frame), 0), np.float32),
    }
    codes = np.zeros((len(frame), len(categorical)), dtype=np.uint16)
    for j, col in enumerate(categorical):
        c, vocab = pd.factorize(frame[col].astype(str).str.strip(), sort=True)
        codes[:, j] = c
        arrays[f"vocab:{col}"] = np.array([str(v) for v in vocab], dtype=str)
    arrays["codes"] = codes
    if test_rows is not None:
        arrays["test_rows"] = np.asarray(test_rows, dtype=bool)
    tmp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


@dataclass
class Coded:
    """A coded table, read: numeric columns, codes and vocabularies of the text columns."""

    path: Path
    numeric_names: list[str]
    numeric: np.ndarray  # (n, k) float32
    categorical_names: list[str]
    codes: np.ndarray  # (n, m) uint16
    vocab: dict[str, list[str]]
    test_rows: np.ndarray | None

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def column(self, name: str) -> np.ndarray:
        """The text column ``name`` as its values (strings)."""
        j = self.categorical_names.index(name)
        return np.asarray(self.vocab[name], dtype=object)[self.codes[:, j]]

    def is_in(self, name: str, values: set[str]) -> np.ndarray:
        """(n,) bool: whether the text column ``name`` holds one of ``values``."""
        j = self.categorical_names.index(name)
        hit = np.array([v in values for v in self.vocab[name]], dtype=bool)
        return hit[self.codes[:, j]] if len(hit) else np.zeros(len(self), bool)


@lru_cache(maxsize=4)
def _read(path: Path, stamp: tuple[int, int]) -> Coded:
    with np.load(path, allow_pickle=False) as z:
        cats = [str(c) for c in z["categorical_names"]]
        return Coded(path, [str(c) for c in z["numeric_names"]], z["numeric"], cats,
                     z["codes"], {c: [str(v) for v in z[f"vocab:{c}"]] for c in cats},
                     z["test_rows"] if "test_rows" in z.files else None)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def read_coded(path: Path) -> Coded:
    return _read(path, _stamp(path))


def one_hot(table: Coded, inputs: list[str]) -> tuple[np.ndarray, list[str]]:
    """The (n, d) float32 inputs of the columns ``inputs`` (numeric as they are, text
    one-hot) and the source column of each input column: memory-mapped from the cache
    beside the table, made first if it is not there."""
    size, mtime = _stamp(table.path)
    key = f"{table.path.stem}.x{CACHE_VERSION}.{size}.{mtime}"
    cache, meta = table.path.with_name(key + ".npy"), table.path.with_name(key + ".json")
    if cache.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("inputs") == inputs:
            return np.load(cache, mmap_mode="r"), list(info["sources"])
    x, sources = _encode(table, inputs)
    for old in table.path.parent.glob(f"{table.path.stem}.x*"):  # an older fetch's cache
        old.unlink(missing_ok=True)
    tmp = cache.with_name(cache.name + ".part")
    with open(tmp, "wb") as f:
        np.save(f, x)
    os.replace(tmp, cache)
    meta.write_text(json.dumps({"inputs": inputs, "sources": sources}))
    return np.load(cache, mmap_mode="r"), sources


def _encode(table: Coded, inputs: list[str]) -> tuple[np.ndarray, list[str]]:
    num = [c for c in inputs if c in table.numeric_names]
    cat = [c for c in inputs if c in table.categorical_names]
    width = len(num) + sum(len(table.vocab[c]) for c in cat)
    x = np.zeros((len(table), width), dtype=np.float32)
    sources: list[str] = []
    for c in num:
        x[:, len(sources)] = table.numeric[:, table.numeric_names.index(c)]
        sources.append(c)
    rows = np.arange(len(table))
    for c in cat:
        start = len(sources)
        x[rows, start + table.codes[:, table.categorical_names.index(c)]] = 1.0
        sources.extend([c] * len(table.vocab[c]))
    return x, sources


def subset_sizes(n: int, n_test: int, rows: int | None) -> tuple[int, int]:
    """(rows, of which test rows) of a subset of ``rows`` rows that keeps the given split's
    proportion (all rows when ``rows`` is None or not smaller)."""
    if rows is None or rows >= n:
        return n, n_test
    k_test = int(round(rows * n_test / n))
    return rows, k_test


def subset(test_rows: np.ndarray, rows: int | None, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded subset of ``rows`` rows, test and training rows drawn
    apart in the given split's proportion (``subset_sizes``); None: every row."""
    n, n_test = len(test_rows), int(test_rows.sum())
    size, k_test = subset_sizes(n, n_test, rows)
    if size == n:
        return None
    rng = np.random.default_rng(seed)
    test = rng.choice(np.flatnonzero(test_rows), k_test, replace=False)
    train = rng.choice(np.flatnonzero(~test_rows), size - k_test, replace=False)
    return np.sort(np.concatenate([train, test]))


class GivenSplitDataset(FileDataset):
    """A table shipped with its own test rows (Census-Income, Adult), kept coded in one
    file (``coded_file``, its inputs ``inputs`` one-hot): the given test rows stay the test
    split, and a seeded subset of ``options.rows`` keeps the split's proportion."""

    coded_file: ClassVar[str]
    inputs: ClassVar[list[str]]

    @classmethod
    def _sizes(cls, options: Any) -> tuple[int, int]:
        table = read_coded(cls.file(cls.coded_file))
        assert table.test_rows is not None  # convert() marks them
        return subset_sizes(len(table), int(table.test_rows.sum()), options.rows)

    @classmethod
    def n_samples(cls, options: Any) -> int:
        return cls._sizes(options)[0]

    @classmethod
    def given_test_size(cls, options: Any) -> int | None:
        return cls._sizes(options)[1]

    @classmethod
    def chosen_rows(cls, options: Any, seed: int
                    ) -> tuple[Coded, np.ndarray, list[str], Callable[[Any], np.ndarray]]:
        """(the table, its one-hot inputs of the chosen rows, their source columns, and
        ``pick``: the chosen rows of any per-row array): every row, or a seeded subset of
        ``rows`` (the data seed draws it)."""
        table = read_coded(cls.file(cls.coded_file))
        x, sources = one_hot(table, cls.inputs)
        assert table.test_rows is not None  # convert() marks them
        sel = subset(table.test_rows, options.rows, seed)

        def pick(a: Any) -> np.ndarray:  # the subset's rows (all by default)
            return a if sel is None else np.asarray(a)[sel]  # (a memory map stays one)

        return table, pick(x), sources, pick
