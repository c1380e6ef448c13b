# Documented entry points. Each target bootstraps .venv from uv.lock when it is missing
# or older than the lock file, so a fresh machine needs only Python 3.11.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.synced
UV_VERSION := 0.13.9
# Optional extras installed by default here: Spark (the tests compare both engines) and
# JupyterLab (make lab). `make EXTRAS= env` gives the lean environment.
EXTRAS  ?= --extra spark --extra lab
DATA    ?= data/synthetic
YEAR    ?= 2023
POOL_FROM ?= 2021
LANG_   ?= ja
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: report test nbval notebooks lint format lab bench env clean-venv

$(STAMP): uv.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	test -x $(BIN)/uv || { $(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; }
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --quiet $(EXTRAS)
	touch $@

env: $(STAMP) ## create or update .venv from the lock file

report: $(STAMP) ## the main job: synthetic city (first time) -> FY run (validates) -> report
	test -f $(DATA)/dataset.json || $(BIN)/mvm-eval simulate --out $(DATA)
	run_dir=$$($(BIN)/mvm-eval run --data $(DATA) --fiscal-year $(YEAR) --pool-from $(POOL_FROM) --lang $(LANG_) | tail -n 1) && \
	$(BIN)/mvm-eval report "$$run_dir" && \
	echo "report written to $$run_dir/report/ (verify with: $(BIN)/mvm-eval verify $$run_dir)"

test: $(STAMP) ## the whole test suite, then the committed notebook outputs (nbval)
	$(BIN)/python -m pytest -n 2 --dist loadgroup
	$(MAKE) --no-print-directory nbval

# nbval runs the step notebooks in order in one process (02-05 read what 01 wrote), one
# kernel per notebook, on the preview town (notebooks/conftest.py); never under xdist.
nbval: $(STAMP) ## check that the committed notebook outputs still reproduce
	$(BIN)/python -m pytest -p no:xdist --nbval notebooks/ \
	  --nbval-sanitize-with notebooks/nbval_sanitize.cfg

notebooks: $(STAMP) ## regenerate the committed notebook outputs (preview town; idempotent)
	$(BIN)/python -m analysis.runs.notebook_outputs

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check src tests

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format src tests

lab: $(STAMP) ## JupyterLab with the package installed and the notebooks ready
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP) ## all benchmarks (slow; prints figures)
	$(BIN)/mvm-eval bench simulate
	$(BIN)/mvm-eval bench validate
	$(BIN)/mvm-eval bench cohort --population 200000
	$(BIN)/mvm-eval bench risk
	$(BIN)/mvm-eval bench causal
	$(BIN)/mvm-eval bench recovery --settings default,uptake10 --seeds 20 --pool-from 2021

clean-venv:
	rm -rf $(VENV)
