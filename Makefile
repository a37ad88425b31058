# The two commands of the README. Both install what they need into .venv first
# (tools/install.sh: idempotent, seconds when .venv is ready).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test
install:
	bash tools/install.sh

demo: install
	bash tools/demo.sh

# lint first (ruff, configured in pyproject.toml: pyflakes, pycodestyle, isort order, bugbear)
test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)
