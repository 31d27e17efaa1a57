# One command to launch the workbench on a sample, one to run every test.
# Everything installs into .venv from requirements.lock (exact versions).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= fraud_detection
DEMO   ?= $(HOME)/mlops-workbench-demo
STAMP  := $(VENV)/.installed

.PHONY: venv run test bench bench-quick faults check lint clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## make run: set up, create the sample project (once) in $(DEMO), open the workbench on it
run: $(STAMP)
	@git config user.name >/dev/null || { echo "git needs your name and email: git config --global user.name 'Your Name' && git config --global user.email you@example.com"; exit 2; }
	@mkdir -p $(DEMO)
	@test -f "$(DEMO)/$(SAMPLE)/workbench.yaml" || $(BIN)/mlops-workbench new "$(DEMO)/$(SAMPLE)" --sample $(SAMPLE)
	$(BIN)/mlops-workbench "$(DEMO)/$(SAMPLE)"

## make test: set up and run every test (2 workers)
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

## make bench: every benchmark, one table of ratios against references measured in the same run
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

## make bench-quick: the same without Evidently's multi-minute comparison
bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

## make faults: kill -9 mid-operation, two writers, a long session; prints how many trials passed
faults: $(STAMP)
	$(BIN)/python benchmarks/run.py --faults

## make lint: ruff over the code, the tests and the benchmarks; the layer contracts; mypy on the core
lint: $(STAMP)
	$(BIN)/ruff check workbench screens tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

## make check: lint and every test
check: lint
	$(MAKE) test

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
