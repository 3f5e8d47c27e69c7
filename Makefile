SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup train run run-cluster test lint bench admin-user clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

setup: ## Install Debian packages, both venvs (from lock files) and build models/data (idempotent)
	@bash scripts/setup.sh

train: setup ## Train the Rasa model if config, domain, data or NLU components changed
	@bash scripts/train.sh

run: train ## Set everything up and run the whole stack on 127.0.0.1 (Ctrl-C stops it)
	@bash scripts/run.sh

run-cluster: train ## The scale-out topology on 127.0.0.1: PostgreSQL, Redis, nginx, 2 replicas of each process
	@bash scripts/run_cluster.sh

test: train ## Run the whole test suite (lint, types, pytest in both venvs, rasa validate/test)
	@bash scripts/test.sh

lint: ## ruff, mypy and the import contracts
	@.venv/bin/ruff check . && .venv/bin/mypy && .venv/bin/lint-imports --no-cache

bench: train ## Benchmarks; results in bench/results/
	@bash scripts/bench.sh

admin-user: ## Create an admin console account: make admin-user NAME=alice
	@test -n "$(NAME)" || { echo "usage: make admin-user NAME=<login>"; exit 2; }
	@.venv/bin/python -m admin create-user $(NAME) --role admin

clean: ## Remove trained models and test results (keeps venvs and var/)
	rm -rf models results
