# Every target sets up .venv on first use; later runs reuse it unless pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8888

.PHONY: setup test report lab bench bench-full calibrate demo clean-store help

help:
	@echo "make report  set up, load the demo data, render the reports into reports/"
	@echo "make test    set up and run the whole test suite (unit, notebooks, browser)"
	@echo "make lab     open JupyterLab on notebooks/"
	@echo "make bench   run the scale benchmarks (a few minutes; writes benchmarks/results.json)"
	@echo "make bench-full  every size, the 10,000-person organisation and the reports (heavy)"
	@echo "make calibrate  simulate each statistical claim (a few minutes), write docs/statistics.md"
	@echo "make demo    load the demo data into the default store (once)"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/mastery demo --if-empty

report: $(STAMP)
	$(BIN)/mastery demo --if-empty
	$(BIN)/mastery report personal --participant alex --out reports/personal-alex.html
	$(BIN)/mastery report cohort --cohort spring-cohort --out reports/cohort-spring-cohort.html
	$(BIN)/mastery report experiment --participant jo --experiment jo-x1 --out reports/experiment-jo-x1.html

# the same code as `mastery lab`: in a checkout the workspace is notebooks/ itself
# (it adds --allow-root when run as root: JupyterLab refuses root unless told)
lab: $(STAMP)
	$(BIN)/mastery lab --port=$(PORT)

BENCH_STAMP := $(VENV)/.bench-installed

# the peers (polars, DuckDB) are a benchmark-only extra
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

bench-full: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks --full

calibrate: $(STAMP)
	$(BIN)/python -m calibration docs/statistics.md

clean-store:
	rm -f data/mastery.db data/mastery.db-wal data/mastery.db-shm
