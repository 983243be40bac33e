# Contributor entry points; CI calls `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
CANARY := target/debug/canary
SAMPLE := examples/retail
# Python packages the tests use as independent oracles.
PY_TEST_DEPS := pytest duckdb pandas pyarrow numpy

.PHONY: help build demo test test-rust test-python conformance lint fmt bench data schemas clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

build: ## Build the canary CLI (debug)
	$(CARGO) build --bin canary

demo: build ## Compute the sample KPI pack by month, drilled down by channel
	$(CANARY) --project $(SAMPLE) validate
	$(CANARY) --project $(SAMPLE) compute @demo --grain month --by channel --from 2025-07 --to 2026-01

test: test-rust conformance test-python ## Run every test (Rust, Python, MetricFlow suite), installing what they need

test-rust: ## Rust unit, integration and doc tests; benches compiled in test mode
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

$(VENV)/.installed: Makefile
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check $(PY_TEST_DEPS)
	touch $@

test-python: build $(VENV)/.installed ## Python tests: DuckDB and pandas oracles against the CLI
	CANARY_BIN=$(CURDIR)/$(CANARY) $(VPY) -m pytest -q tests

conformance: ## MetricFlow's integration cases through Canary (MetricFlow YAML, dbt's JSON manifest, dbt property files); fails below crates/conformance/floor.txt
	$(CARGO) run -p canary-conformance --
	$(CARGO) run -p canary-conformance -- --dbt-json
	$(CARGO) run -p canary-conformance -- --dbt-yaml

lint: ## rustfmt and clippy, warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Run the criterion benchmarks (release build: slow)
	$(CARGO) bench --workspace

schemas: ## Regenerate docs/schema/*.json from the spec types
	CANARY_UPDATE_SCHEMAS=1 $(CARGO) test -p canary-core --test it schema

data: $(VENV)/.installed ## Regenerate the sample project's data (seeded, deterministic)
	$(VPY) $(SAMPLE)/datagen.py

clean: ## Remove build outputs and the virtualenv
	$(CARGO) clean
	rm -rf $(VENV)
