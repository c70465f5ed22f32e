# Two commands for a newcomer: `make plan` (the program's main job, offline) and `make test`.
PYTHON ?= python3
STACK ?= dev
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: plan test lint bench up preview destroy clean

$(INSTALLED): requirements.txt requirements-dev.txt lambdas/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## plan: print what `pulumi up` would create for STACK (default dev), offline, under mocks
plan: $(INSTALLED)
	$(BIN)/python tools/plan.py --stack $(STACK)

## lint: ruff and mypy
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: lint, type-check and run every test (program under mocks, handlers against moto + Stripe fake)
test: lint
	$(BIN)/pytest -n 2

## bench: cold start, warm path, Secrets Manager calls, DynamoDB cost, package size (see BENCHMARKS.md)
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

## up / preview / destroy: the real thing, for a user with the Pulumi CLI, AWS credentials and a Stripe key
up: $(INSTALLED)
	bash scripts/pulumi.sh up $(STACK)

preview: $(INSTALLED)
	bash scripts/pulumi.sh preview $(STACK)

destroy: $(INSTALLED)
	bash scripts/pulumi.sh destroy $(STACK)

clean:
	rm -rf build $(VENV)
