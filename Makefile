# Two commands for a newcomer: `make plan` (the program's main job, offline) and `make test`.
PYTHON ?= python3
STACK ?= dev
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PROGRAM_INSTALLED := $(VENV)/.installed-program
ARGS ?=

.PHONY: plan test lint bench up preview destroy clean

$(INSTALLED): requirements.txt infra/requirements.txt requirements-dev.txt lambdas/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(PROGRAM_INSTALLED)

# A deploy needs only the program's pins (the same .venv Pulumi.yaml names), not the test tooling.
$(PROGRAM_INSTALLED): requirements.txt infra/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

## plan: print what `pulumi up` would create for STACK (default dev), offline, under mocks
plan: $(INSTALLED)
	$(BIN)/python tools/plan.py --stack $(STACK)

## lint: ruff, mypy and the GitHub workflow's schema
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

## test: lint, type-check and run every test (program under mocks, handlers against moto + Stripe fake)
test: lint
	$(BIN)/pytest -n 2

## bench: cold start, warm path, Secrets Manager calls, DynamoDB cost, package size (see BENCHMARKS.md)
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks

## up / preview / destroy: the real thing (Pulumi CLI, AWS credentials, a Stripe key); ARGS='--yes ...'
up preview destroy: $(PROGRAM_INSTALLED)
	bash scripts/pulumi.sh $@ $(STACK) $(ARGS)

clean:
	rm -rf build $(VENV)
