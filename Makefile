# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the optional extras the test suite covers (Ray studies, UMAP); `make run` stays lean
EXTRAS_STAMP := $(VENV)/.installed-extras

.PHONY: run class test lint bench clean data data-if-missing

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch would pull the CUDA build.
	$(PY) -m pip install -q -c constraints.txt torch
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(EXTRAS_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,ray,umap]'
	touch $(EXTRAS_STAMP)

# the real benchmarks (Census-Income, Adult, MNIST, penguins): fetched once, checksum-verified,
# into $$MTAE_HOME/datasets (docs/data.md); idempotent
data: $(STAMP)
	$(PY) -m mtae_core.data.fetch

# make run and make test fetch what is missing; a failure is one plain line and they go on
data-if-missing: $(STAMP)
	@$(PY) -m mtae_core.data.fetch --if-missing --soft

run: $(STAMP) data-if-missing
	$(PY) -m ui.frame.serve  # streamlit run app.py, the engine imported while the server starts

# a class on one server: students' link, its QR code and the teacher's link (PORT=8502 to move)
class: $(STAMP) data-if-missing
	$(PY) -m mtae_core.cli serve --class $(if $(PORT),--port $(PORT))

test: $(EXTRAS_STAMP) data-if-missing
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/bench_loader.py
	$(PY) bench/bench_latency.py
	$(PY) bench/bench_sharing.py
	$(PY) bench/bench_weighting.py
	$(PY) bench/bench_study.py
	$(PY) bench/bench_seeds.py

clean:
	rm -rf $(VENV) build *.egg-info
