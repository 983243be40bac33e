# Contributor entry points; CI calls `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
CANARY := target/debug/canary
SAMPLE := examples/retail
# Python packages the tests use: the wheel's build tool, its optional dependencies, and
# independent oracles (DuckDB, pandas).
PY_TEST_DEPS := maturin pytest duckdb pandas pyarrow numpy polars matplotlib pyyaml 'jsonschema[format-nongpl]' 'moto[server]' boto3
# Python lint and type check: ruff, and mypy --strict with the stubs of the typed
# dependencies the facade names.
PY_LINT_DEPS := ruff mypy pandas-stubs pyarrow-stubs
WHEELS := target/wheels

.PHONY: help build demo test test-rust test-python test-mf-diff conformance-diff mf-venv wheel conformance lint fmt bench bench-python fuzz sys-deps data schemas clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## Build the canary CLI (debug)
	$(CARGO) build --bin canary

demo: build ## Compute the sample KPI pack by month, drilled down by channel
	$(CANARY) --project $(SAMPLE) validate
	$(CANARY) --project $(SAMPLE) compute @demo --grain month --by channel --from 2025-07 --to 2026-01

test: lint test-rust conformance test-python test-mf-diff ## Run every test (lint first, then Rust, Python, MetricFlow suite and MetricFlow as oracle), installing what they need

test-rust: ## Rust unit, integration and doc tests; benches compiled in test mode
	$(CARGO) test --workspace --exclude canary-py --all-targets
	$(CARGO) test --workspace --exclude canary-py --doc

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check $(PY_TEST_DEPS) $(PY_LINT_DEPS)
	touch $@

wheel: $(VENV)/.installed ## Build the Python wheel (debug profile, the tests' DataFusion build) and install it into .venv
	rm -f $(WHEELS)/canary-*.whl
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/maturin build --profile dev --compatibility linux --out $(WHEELS)
	$(VPY) -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall $(WHEELS)/canary-*.whl

# Debian packages the fault tests drive: strace injects faults at each step of a commit.
# (Installed only when missing; CI runs as root.)
sys-deps:
	@command -v strace >/dev/null || (apt-get update -qq && apt-get install -y -qq strace >/dev/null)

test-python: build wheel sys-deps ## Python tests: the wheel's API, DuckDB and pandas oracles, the hostile corpus, S3 on loopback, faults
	CANARY_BIN=$(CURDIR)/$(CANARY) $(VPY) -m pytest -q tests --ignore=tests/mf_diff

# MetricFlow itself as the oracle, in its own virtualenv (its pins are not the test venv's).
MF_VENV := .venv-mf
MF_PY := $(MF_VENV)/bin/python
MF_PY_DEPS := metricflow==0.213.0 duckdb pyarrow pyyaml pytest
N ?= 2000
SEED ?= 1

$(MF_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(MF_VENV)
	$(MF_PY) -m pip install --quiet --disable-pip-version-check $(MF_PY_DEPS)
	touch $@

mf-venv: wheel $(MF_VENV)/.installed
	$(MF_PY) -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall $(WHEELS)/canary-*.whl

test-mf-diff: mf-venv ## Generated MetricFlow queries, MetricFlow itself against Canary (bounded sample, fixed seed)
	$(MF_PY) -m pytest -q tests/mf_diff

conformance-diff: mf-venv ## A longer differential run: make conformance-diff N=5000 SEED=7 (report in target/mf-diff.json)
	$(MF_PY) tests/mf_diff/run.py --queries $(N) --seed $(SEED) --report target/mf-diff.json

conformance: ## MetricFlow's integration cases through Canary (MetricFlow YAML, dbt's JSON manifest, dbt property files); fails when a case listed in crates/conformance/passing/ stops passing
	$(CARGO) run -p canary-conformance --
	$(CARGO) run -p canary-conformance -- --dbt-json
	$(CARGO) run -p canary-conformance -- --dbt-yaml

lint: $(VENV)/.installed ## rustfmt, clippy and rustdoc, warnings as errors; ruff, and mypy --strict of the Python package
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p canary-core
	$(VENV)/bin/ruff check python tests
	$(VENV)/bin/ruff format --check python tests
	$(VENV)/bin/mypy --strict

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Run the criterion benchmarks (release build: slow)
	$(CARGO) bench --workspace

bench-python: build wheel ## Python against the CLI on the sample pack (medians of alternating runs)
	CANARY_BIN=$(CURDIR)/$(CANARY) $(VPY) benches/python_vs_cli.py

FUZZ_SECONDS ?= 600
FUZZ_TARGETS := spec expr mf evidence parquet
fuzz: ## Fuzz every target of fuzz/ for FUZZ_SECONDS each (default 600; nightly toolchain, installs cargo-fuzz)
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(CARGO) +nightly fuzz build -s none -a
	for t in $(FUZZ_TARGETS); do \
	  bash fuzz/seed.sh $$t && \
	  (cd fuzz && $(CARGO) +nightly fuzz run -s none -a $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=4096 -print_final_stats=1) || exit 1; \
	done

schemas: ## Regenerate docs/schema/*.json from the spec types
	CANARY_UPDATE_SCHEMAS=1 $(CARGO) test -p canary-core --test it schema

data: $(VENV)/.installed ## Regenerate the sample project's data (seeded, deterministic)
	$(VPY) $(SAMPLE)/datagen.py

clean: ## Remove build outputs and the virtualenv
	$(CARGO) clean
	rm -rf $(VENV)
