# ewp: two commands do everything on a fresh Debian / Raspberry Pi OS machine.
#   make demo   set up, start broker + fleet + a simulated fleet of stations, show the result
#   make demo-rollout   the same, and a new agent release rolled out to it in phases
#   make test   set up, lint, type-check and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ewp-installed
DEMO_ARGS ?=

.PHONY: setup system-deps test-deps catalogs test lint typecheck pytest demo demo-rollout bench clean

system-deps:
	@scripts/ensure-system-deps.sh

# Only `make test` needs them: PostgreSQL (store tests), Debian's chromium and a Thai font.
test-deps:
	@scripts/ensure-system-deps.sh --test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[station,fleet,sim,dev]'
	@touch $@

# The gettext catalogs: .po (what translators edit, committed) -> .mo (build output, decision 0065).
catalogs: $(STAMP)
	@$(BIN)/python -m ewp.catalogs

setup: system-deps $(STAMP) catalogs

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# loadfile: a test file's tests run on one worker, so a module's fixture (one fleet; the browser
# tests' fleet and Chromium) is set up once, not once per worker.
pytest: setup test-deps
	$(BIN)/pytest -n 2 --dist loadfile

test: lint typecheck pytest

demo: setup
	$(BIN)/ewp demo $(DEMO_ARGS)

# The demo plus a new agent release rolled out in phases (docs/tools/ewp-demo.md);
# DEMO_ARGS=--rollout-fail-canary: a broken build that halts at the canary.
demo-rollout: setup
	$(BIN)/ewp demo --rollout $(DEMO_ARGS)

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis var test-artifacts
