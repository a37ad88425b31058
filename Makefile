# The two commands of the README. Both install what they need into .venv first
# (tools/install.sh: idempotent, seconds when .venv is ready).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install demo test coverage mutation isbi-model
install:
	bash tools/install.sh

demo: install
	bash tools/demo.sh

# lint first (ruff, configured in pyproject.toml: pyflakes, pycodestyle, isort order, bugbear);
# two pytest-xdist workers, one file each at a time (module fixtures built once), one
# compute thread each (tests/conftest.py): docs/testing.md
PYTEST_WORKERS ?= 2
test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# make test's suite with the line coverage of the package (docs/testing.md, Coverage)
coverage: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --cov=mmceph --cov=data_converters \
		--cov-report=term $(PYTEST_ARGS)

# Mutation testing of the clinically critical modules against their focused tests (not
# part of `make test`: hours on 2 busy cores; MUTANTS="glob" for one module). Configuration: setup.cfg [mutmut]; the score
# per module and the equivalent mutants: docs/mutation.md.
MUTANTS ?= "mmceph.clinical*" "mmceph.predictor.quality*" "mmceph.evaluation*" "mmceph.core*" \
	"mmceph.imaging.image_io*" "mmceph.formats.spacing*" \
	"mmceph.apis.adaptation.x_estimate_offsets*" \
	"mmceph.apis.adaptation.x_offsets_in_mm*" "mmceph.apis.adaptation.x_leave_one_out*" \
	"mmceph.runtime.onnx_predictor.xǁNormaliserǁ*"
mutation: install
	OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(PY) tools/mutation_score.py

# One step to a real model: ISBI 2015 download -> trained, tested (senior/junior/mean) and
# exported recommended recipe (about 90 min on 2 cores). Usage: make isbi-model ISBI=/path
ISBI ?=
isbi-model: install
	@test -n "$(ISBI)" || { echo "usage: make isbi-model ISBI=/path/to/ISBI2015" >&2; exit 2; }
	bash tools/isbi_model.sh "$(ISBI)"
