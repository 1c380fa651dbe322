# Two commands on a fresh machine: `make demo` and `make test`. Everything else is here for people who
# want one step of it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv test lint pytest bench soak demo clean

venv: $(STAMP)

# Re-install when the project's metadata changes; a fresh clone has no .venv, so this always runs there.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Three processes on CI's two cores: most tests wait on PostgreSQL, Temporal or a subprocess, not the CPU.
# Whole files go to one process (--dist loadfile): a file's module-scoped stack is started once.
pytest: $(STAMP)
	$(BIN)/pytest -q -n 3 --dist loadfile

test: lint pytest

# Every benchmark in turn (bench/run_all.py has the order), one JSON line each appended to
# bench/results.jsonl; then the tables of docs/performance.md are rendered from it (bench/tables.py), even
# when a benchmark failed (make still fails then).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	status=0; $(BIN)/python -m bench.run_all || status=$$?; \
	$(BIN)/python -m bench.tables && exit $$status

soak: $(STAMP)
	$(BIN)/pytest -q -m slow

# The example engagement through a whole year on the real workflow code, then its timeline and checks.
demo: $(STAMP)
	$(BIN)/coproduce demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
