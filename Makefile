# The two commands a person needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every package with its version and hashes, made from pyproject.toml by `make lock`:
# requirements/main.txt is what the image installs, dev.txt adds the dev and embedded extras,
# bootstrap.txt is the pip that installs them.
LOCK := requirements/dev.txt
# uv installs the lock in seconds where pip takes half a minute. It is taken from PATH, else
# from $(UV_BOOT) where an earlier install put it, else fetched there from PyPI now (with
# pip); when none of that works, or uv fails, pip installs as it always did (install-with-pip).
# A folder of the user's cache, not of the clone: fetching uv takes longer than the install
# itself, and every clone after the first finds it there.
UV_BOOT ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/seven-numbers/uv
UV_FIND = command -v uv || { [ -x $(UV_BOOT)/bin/uv ] && echo $(UV_BOOT)/bin/uv; } || \
	{ $(PYTHON) -m pip install --quiet --disable-pip-version-check --target $(UV_BOOT) uv \
	>/dev/null 2>&1 && echo $(UV_BOOT)/bin/uv; }
UV ?= uv
# Not every file is compiled to bytecode here (all 650 MB of the venv take 15 to 20 s), only
# what the service's processes and the tests import (WARM, about 5 s): where
# PYTHONDONTWRITEBYTECODE is set, as on the reference machine, Python never writes what it
# compiles on import, and every process compiled its imports from source again (`make run`
# ready after 7.8 to 11.9 s so, 2.1 to 2.8 s warmed; importing app.asgi 2.5 s against 1.1 s).
PIP_INSTALL = $(PY) -m pip install --quiet --no-compile
WARM = alembic.config, app.asgi, app.cli, dev.server, dev.embedded, sandbox.http, sandbox.cli, \
	workers.runner, workers.settings, uvicorn.main, pytest, xdist, playwright.async_api
DISAGREE = pyproject.toml and $(LOCK) disagree: run make lock
# `make lock` keeps every pinned version it can; `make lock LOCK_FLAGS=--upgrade` takes the newest.
LOCK_FLAGS ?=
COMPILE = $(VENV)/bin/uv pip compile --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" --quiet $(LOCK_FLAGS)

.PHONY: install install-with-uv install-with-pip lock js-sdk run test test-fast lint format settings-table bench-sync bench-reads bench-operations bench-costs mutate clean

install: $(STAMP)

# A new venv holding exactly the lock (hash-checked), then the project itself without its
# dependencies; the check fails when pyproject.toml asks for something the lock lacks.
# The stamp keeps repeated runs instant until pyproject.toml or the lock changes.
$(STAMP): pyproject.toml requirements/bootstrap.txt $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed (set PYTHON=python3.11)")'
	@uv=$$($(UV_FIND)); \
	if [ -n "$$uv" ] && $(MAKE) --no-print-directory UV="$$uv" install-with-uv; then \
		$$uv pip check --quiet --python $(PY) || { $$uv pip check --python $(PY); echo "$(DISAGREE)"; exit 1; }; \
	else \
		echo "uv is not available or failed: installing with pip"; \
		$(MAKE) --no-print-directory install-with-pip || exit 1; \
	fi
	@PYTHONDONTWRITEBYTECODE= REDIS_URL=redis://unused $(PY) -c "import $(WARM)" || \
		echo "make install: could not compile the imports ahead; each start compiles its own"
	@touch $@

# The build backend (setuptools) is in the lock: nothing is fetched to install the project.
# pip comes along (the bootstrap lock), so the venv is the one the pip path makes.
install-with-uv:
	$(UV) venv --quiet --clear --python $(PYTHON) $(VENV)
	$(UV) pip sync --quiet --python $(PY) --require-hashes requirements/bootstrap.txt $(LOCK)
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .

install-with-pip:
	$(PYTHON) -m venv --clear $(VENV)
	$(PIP_INSTALL) --require-hashes -r requirements/bootstrap.txt
	$(PIP_INSTALL) --require-hashes -r $(LOCK)
	$(PIP_INSTALL) --no-deps --no-build-isolation -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check; echo "$(DISAGREE)"; exit 1; }

## Pin pyproject.toml's dependencies with hashes into requirements/ (needs the package index).
lock: $(VENV)/bin/uv
	$(COMPILE) requirements/bootstrap.in -o requirements/bootstrap.txt
	$(COMPILE) pyproject.toml requirements/build.in -o requirements/main.txt
	$(COMPILE) pyproject.toml requirements/build.in --extra dev --extra embedded \
		-c requirements/main.txt -o requirements/dev.txt

# uv comes with the dev extra; this fetches it when the venv has none yet.
$(VENV)/bin/uv:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv

## Start the whole service (API, worker, sync, and the sandbox when SEVEN_API_KEY is unset).
run: install
	$(PY) -m dev.server

## Run the whole test suite against real PostgreSQL and Redis.
test: install js-sdk
	$(PY) -m pytest -n auto

# seven's official JS SDK, run against the sandbox by tests/sandbox/test_sandbox_js_sdk.py.
# Optional: without node/npm (or the registry) those tests skip and the rest still run.
JS_SDK := .data/js-sdk/node_modules/@seven.io/client/dist/seven-client.js
js-sdk: $(if $(shell command -v npm),$(JS_SDK))
$(JS_SDK):
	-npm install --silent --no-audit --no-fund --prefix .data/js-sdk @seven.io/client@5.6.0

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy app workers sandbox dev

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Rewrite README.md's configuration table from the settings declared in app/settings.py.
settings-table: install
	$(PY) -m app.settings README.md

## Sync benchmark: 100,000 numbers at the sandbox; first, unchanged and 1%-changed syncs vs the floor.
bench-sync: install
	$(PY) bench/sync.py

## Reads benchmark: GET /v1/numbers/{number} and ?limit=50 over 100,000 numbers vs a bare Litestar endpoint (needs wrk).
bench-reads: install
	$(PY) bench/reads.py

## Operations benchmark: orders/s from the 202 to succeeded with 1 and 2 workers vs a no-op arq job.
bench-operations: install
	$(PY) bench/operations.py

## Cost report benchmark: one month over 100,000 numbers, by tenant and by number, vs hand-written SQL.
bench-costs: install
	$(PY) bench/costs.py

## Mutation run, not part of make test or CI (hours on 2 cores): cosmic-ray breaks the money-
## and isolation-critical modules, each run against its feature's tests (bench/README.md).
## `make mutate MUTATE="diff tenancy"` runs some of them; an interrupted run resumes.
mutate: install
	$(PY) bench/mutate.py $(MUTATE)

clean:
	rm -rf .data .pytest_cache .ruff_cache
