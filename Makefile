# Everyday commands (the same ones .ci/run uses). `make help` lists them.
PY := .venv/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: help venv test test-pg lint types schema bench-smoke multinode

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

venv: ## create .venv with the test extras
	python3.11 -m venv .venv && $(PY)/pip install -q -e '.[test]'

test: ## the suite on SQLite + the embedded worker
	$(PY)/pytest

test-pg: ## the suite on PostgreSQL + Redis (PG_URL, REDIS_URL)
	MB_TEST_DATABASE_URL=$(PG_URL) MB_TEST_REDIS_URL=$(REDIS_URL) MB_REQUIRE_SERVICES=1 $(PY)/pytest

lint: ## ruff, formatting and the import rules
	$(PY)/ruff check src tests bench
	$(PY)/ruff format --check src tests bench
	$(PY)/lint-imports

types: ## mypy
	$(PY)/mypy src

schema: ## export schema.graphql and check it against the contract
	$(PY)/meterbill export-schema > schema.graphql
	$(PY)/python ../shared/tools/check_contract.py schema.graphql

bench-smoke: ## the benchmark at tiny sizes (seconds)
	$(PY)/python bench/run.py --smoke

multinode: ## 2 API + 2 worker nodes in network namespaces, checked exactly (root; minutes)
	$(PY)/python bench/multinode.py
