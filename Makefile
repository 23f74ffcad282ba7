# Two commands do all the set-up on a fresh machine with Python >= 3.11, pip and make:
#   make demo   runs `accord demo` on the embedded simulator
#   make test   runs lint, type checks and the default test suite
# Both bootstrap a virtual environment in .venv from the pinned lock file.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/accord demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	@test -x /usr/bin/chromium || command -v chromium >/dev/null || echo "make test: Chromium \
	is not installed: the timeline browser test (tests/test_timeline_browser.py) is SKIPPED \
	(apt-get install chromium; .ci/run installs it)"
	@command -v redis-server >/dev/null || test -x /usr/bin/redis-server || echo "make test: \
	redis-server is not installed: the Redis journal tests (tests/test_journal_*.py) are \
	SKIPPED (apt-get install redis-server; .ci/run installs it)"
	$(BIN)/pytest -q -rs

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade "pip>=24"
	.lockenv/bin/pip install --quiet -e ".[dev]"
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
