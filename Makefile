# Two commands for a newcomer: `make plan` (the program's main job, offline) and `make test`.
PYTHON ?= python3
STACK ?= dev
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
#: The project's import roots, listed once for every interpreter of the venv (tools, benchmarks).
IMPORT_ROOTS := $(VENV)/.import-roots
PROGRAM_INSTALLED := $(VENV)/.installed-program
ARGS ?=

.PHONY: plan test lint bench serve token complete-checkout usage stripe-emulator up preview destroy clean
PORT ?= 8000

# Installs say nothing on stdout (all of it goes to stderr), so TOKEN=$$(make token) on a fresh
# clone captures the token alone.
$(INSTALLED): requirements.txt infra/requirements.txt requirements-dev.txt lambdas/requirements.txt
	@echo "installing the pinned dependencies into $(VENV)/ (once)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt >&2
	@touch $@ $(PROGRAM_INSTALLED)

$(IMPORT_ROOTS): $(INSTALLED) Makefile
	@$(BIN)/python -c 'import sys, sysconfig, pathlib; pathlib.Path(sysconfig.get_paths()["purelib"], "saas-billing.pth").write_text("".join(p + "\n" for p in sys.argv[1:]))' $(CURDIR)/infra $(CURDIR)/lambdas $(CURDIR)/policy $(CURDIR)
	@touch $@

# A deploy needs only the program's pins (the same .venv Pulumi.yaml names), not the test tooling.
$(PROGRAM_INSTALLED): requirements.txt infra/requirements.txt
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt >&2
	@touch $@

## plan: print what `pulumi up` would create for STACK (default dev), offline, under mocks
plan: $(IMPORT_ROOTS)
	$(BIN)/python tools/plan.py --stack $(STACK)

## lint: ruff, mypy and the GitHub workflow's schema
lint: $(IMPORT_ROOTS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

## test: lint, type-check and run every test (program under mocks, handlers against moto + Stripe fake)
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

## serve: the whole API on http://127.0.0.1:$(PORT) with a demo page (STRIPE_API_KEY=sk_test_... for real test mode)
serve: $(IMPORT_ROOTS)
	$(BIN)/python -m tools.local serve --port $(PORT) --stack $(STACK)

## token: a dev JWT for the local server: make token USER=alice [EMAIL=alice@example.com]
## [ORG=acme ROLE=admin] (an organisation member's token; ROLE=admin or owner manages billing)
token: $(IMPORT_ROOTS)
	@$(BIN)/python -m tools.local token --user $(USER) $(if $(EMAIL),--email $(EMAIL)) \
		$(if $(ORG),--org $(ORG)) $(if $(ROLE),--role $(ROLE))

## complete-checkout: pay an emulator Checkout session: make complete-checkout SESSION=cs_test_...
## (the running make serve's port unless PORT= is given)
complete-checkout: $(IMPORT_ROOTS)
	@$(BIN)/python -m tools.local complete-checkout --session $(SESSION) \
		$(if $(filter command line environment,$(origin PORT)),--port $(PORT))

## usage: send a usage message to make serve's queue: make usage USER=alice METER=api-calls VALUE=5
## [KEY=idempotency-key] (the usage function bills it to alice's Stripe customer)
usage: $(IMPORT_ROOTS)
	@$(BIN)/python -m tools.local usage --user $(USER) --meter $(METER) --value $(VALUE) \
		$(if $(KEY),--key $(KEY))

## stripe-emulator: the offline Stripe on its own: make stripe-emulator [STRIPE_PORT=12111]
## [ACCOUNT_API_VERSION=2024-06-20] (any sk_test_ key; stock it through the API)
STRIPE_PORT ?= 12111
stripe-emulator: $(IMPORT_ROOTS)
	$(BIN)/python -m tools.local.stripe_emulator --port $(STRIPE_PORT) \
		$(if $(ACCOUNT_API_VERSION),--account-api-version $(ACCOUNT_API_VERSION))

## bench: cold start, warm path, Secrets Manager calls, DynamoDB cost, package size (see BENCHMARKS.md)
bench: $(IMPORT_ROOTS)
	$(BIN)/python -m benchmarks

## up / preview / destroy: the real thing (Pulumi CLI, AWS credentials, a Stripe key); ARGS='--yes ...'
up preview destroy: $(PROGRAM_INSTALLED)
	bash scripts/pulumi.sh $@ $(STACK) $(ARGS)

clean:
	rm -rf build $(VENV)
