# Motcua — developer entry points. `make run` and `make test` work on a fresh machine with Python 3.11.
#
#   make run          create .venv, install what running needs (`pip install -e .`), `motcua init` (idempotent:
#                     ./var, sample dossiers on a first run), `motcua serve` on :8000 (MOTCUA_PORT=8080 make run);
#                     prints how long the first page took
#   make install      everything a developer needs: the project with its dev extra (test and lint tools)
#   make test         create .venv, install with the dev extra, run pytest (make test PYTEST_ARGS="-k lint -x")
#   make lint         ruff check + ruff format --check + mypy (domain core) + import-linter + BPMN lint
#   make bench        benchmarks: engine, signing, storage, the officials' task list (bench/*.py)
#   make bench-audit  audit log: appends/s (4 writers on PostgreSQL, SQLite), verifying 1,000,000 entries
#   make bench-scale  the scale benchmark: N dossiers built through the services, measured over HTTP
#                     (make bench-scale N=500,2000 DB=postgresql; N is one size or sizes grown in one database)
#   make clean-state  delete ./var (database, object store, keys of the local set-up)
#   make operaton     build the Operaton engine (deploy/operaton) and start it locally (dev profile)
#
# The project is (re)installed only when pyproject.toml is newer than the stamp: .venv/.installed-run for what
# running needs (`make run`), .venv/.installed for the dev extra as well (`make install`, `test`, `lint`, `bench`);
# installing the dev extra also satisfies the first. pip keeps its download cache in its default place
# (~/.cache/pip), so a re-install is quick.

SHELL := /bin/bash

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
BPMN_TOOLS := tools/bpmn/node_modules/.installed
# when `make run` began (seconds since the epoch): `motcua serve` reports the time to the first page from it
RUN_STARTED := $(shell date +%s.%N)
PYTEST_ARGS ?=
# `make test` runs the suite in this many processes (pytest-xdist; tests/distribution.py keeps each file, the
# browser journeys and everything on Operaton together); TEST_PROCESSES=0 runs it in one. Three on two cores: much of
# the suite waits (engines, servers and workers started, killed and polled), and a third process fills those waits —
# measured on 2 cores: 646 s wall for 1,129 s of CPU, where two processes took ≈ 900 s.
TEST_PROCESSES ?= 3

# Debian packages the tests use as independent checkers: poppler (pdfsig, pdftotext, pdffonts, pdftoppm) and
# NSS tools (certutil, to trust the development root in pdfsig); chromium is the real browser Playwright drives
# in tests/browser (Playwright's own browser downloads are never used). Installed only when a command is missing.
SYSTEM_COMMANDS := pdfsig pdftotext pdffonts pdftoppm certutil softhsm2-util openssl pg_ctlcluster chromium
SYSTEM_PACKAGES := poppler-utils libnss3-tools softhsm2 openssl postgresql chromium

.PHONY: install install-run system-deps run test lint bench bench-audit bench-scale clean-state operaton

install: $(STAMP) $(BPMN_TOOLS)

install-run: $(RUN_STAMP)

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "python3 (3.11 or newer) is needed" >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "$(PYTHON) is older than Python 3.11" >&2; exit 1; }
	"$(PYTHON)" -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@if [ $(STAMP) -nt pyproject.toml ]; then echo "$(VENV) has the dev install: it holds what running needs"; \
	else echo "$(BIN)/python -m pip install --disable-pip-version-check -e ."; \
		$(BIN)/python -m pip install --disable-pip-version-check -e .; fi
	@touch $@

# bpmn.io's layout and lint tools (tools/bpmn): installed again only when their lock file changes
$(BPMN_TOOLS): tools/bpmn/package-lock.json
	cd tools/bpmn && npm ci --prefer-offline --no-audit --no-fund --loglevel=error
	@touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	@touch $@ $(RUN_STAMP)

# the procedure designer publishes into the agency's catalogue: var/catalogue unless MOTCUA_CATALOGUE_DIR names one
run: install-run
	MOTCUA_CATALOGUE_DIR="$${MOTCUA_CATALOGUE_DIR:-var/catalogue}" $(BIN)/motcua init
	MOTCUA_CATALOGUE_DIR="$${MOTCUA_CATALOGUE_DIR:-var/catalogue}" MOTCUA_RUN_STARTED=$(RUN_STARTED) $(BIN)/motcua serve

system-deps:
	@missing=""; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

test: install system-deps
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup --durations=15 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dossiers
	$(BIN)/lint-imports
	$(BIN)/python -m workflows.lint workflows/bpmn
	tools/bpmn/node_modules/.bin/bpmnlint --config tools/bpmn/.bpmnlintrc workflows/bpmn/*.bpmn

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/engines.py
	$(BIN)/python bench/signing.py --quick
	$(BIN)/python bench/storage.py --quick
	$(BIN)/python -m bench.task_list --dossiers 500

bench-audit: install
	$(BIN)/python bench/audit.py

N ?= 500
DB ?= sqlite
bench-scale: install
	$(BIN)/python -m bench.scale --database $(DB) --sizes $(N)

clean-state:
	rm -rf var

# Operaton (the production engine) built from Maven Central and started locally on H2 with the dev profile;
# Maven's cache in ~/.m2 lets later builds run offline.
operaton:
	cd deploy/operaton && (mvn -o -q -B -DskipTests package || mvn -q -B -DskipTests package)
	SPRING_PROFILES_ACTIVE=$${SPRING_PROFILES_ACTIVE:-dev} java -jar deploy/operaton/target/motcua-operaton.jar
