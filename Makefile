# The two commands a newcomer needs: `make run` and `make test`. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
RASA := $(BIN)/rasa
MODEL := models/clinicbot.tar.gz
TRAINING_INPUTS := config.yml domain.yml $(shell find data clinicbot/nlu clinicbot/ptbr -name '*.yml' -o -name '*.py' 2>/dev/null)

# Optional local overrides (see .env.example).
-include .env
export
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::DeprecationWarning

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

.PHONY: install
install: $(VENV)/.ready ## build .venv from Python 3.10 and install the project

$(VENV)/.ready: pyproject.toml scripts/bootstrap.sh
	@scripts/bootstrap.sh
	@touch $@

.PHONY: run
run: install train ## run the assistant (sandbox GestãoDS/Z-API and SQLite unless configured)
	$(PY) -m clinicbot.cli run

.PHONY: test
test: install lint validate train pytest rasa-test ## everything CI runs

.PHONY: lint
lint: install ## ruff, then mypy (strict, over clinicbot/ and actions/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: install ## ruff format + fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: validate
validate: install ## rasa data validate
	$(RASA) data validate

.PHONY: train
train: install $(MODEL) ## train the model when data, config or NLU code changed

# --force: Rasa's training cache keys on config and data, not on our components' code.
$(MODEL): $(TRAINING_INPUTS)
	$(RASA) train --force --fixed-model-name clinicbot --out models
	@touch $@

.PHONY: pytest
pytest: install train ## the pytest suites (unit, data on SQLite + PostgreSQL, end-to-end over HTTP)
	$(BIN)/pytest -q --random-order

.PHONY: rasa-test
rasa-test: install train ## rasa test: held-out NLU (gated by tests/nlu/quality_gates.yml), test stories
	rm -rf results/nlu
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu/test_data.yml --out results/nlu
	$(PY) -m tests.nlu.gates results/nlu
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --out results/core \
		--fail-on-prediction-errors

# Clinic wall times the suite must pass at: every weekday, a month's (and year's) last day,
# seconds before the first slot of the day starts and as the last one starts.
CLOCK_MATRIX := 2026-12-07T10:40 2026-12-08T10:40 2026-12-09T10:40 2026-12-10T10:40 \
	2026-12-11T10:40 2026-12-12T10:40 2026-12-13T10:40 2026-12-31T10:40 \
	2026-12-08T08:29:50 2026-12-08T17:59:50 2026-12-11T17:59:50

.PHONY: test-clock-matrix
test-clock-matrix: install train ## pytest once per pinned clock in CLOCK_MATRIX (about 3 min each)
	@for start in $(CLOCK_MATRIX); do \
		echo "==> CLOCK_START=$$start"; \
		CLOCK_START=$$start $(BIN)/pytest -q --random-order -p no:cacheprovider || exit 1; \
	done

.PHONY: bench-nlu
bench-nlu: install ## NLU cross-validation (3 folds, ~1 h): the project's pipeline vs stock Rasa -> bench/nlu_report.md
	$(PY) -m bench.nlu_benchmark --folds 3

.PHONY: bench-db
bench-db: install ## 1M messages on PostgreSQL: partition pruning and indexes -> bench/db_report.md
	$(PY) -m bench.db_partitions

.PHONY: bench-webhook
bench-webhook: install train ## webhook ACK and reply latency vs a baseline -> bench/webhook_report.md
	$(PY) -m bench.webhook_benchmark

.PHONY: bench-clinics
bench-clinics: install ## 1, 5 and 20 clinics sharing 2000 patients: turn DB work, scheduler pass, memory per clinic -> bench/clinics_report.md
	$(PY) -m bench.clinics_benchmark

.PHONY: bench
bench: install ## whole conversations, 1-32 patients, project vs stock Rasa, SQLite and PostgreSQL (BENCH_QUICK=1: reduced) -> bench/e2e_report.md
	$(PY) -m bench.e2e_benchmark

.PHONY: bench-action-check
bench-action-check: install ## CPU per custom action answer: stock jsonschema vs the schema checked once -> bench/action_check_report.md
	$(PY) -m bench.action_check_benchmark

.PHONY: bench-faults
bench-faults: install train ## messages and bookings under faults (SOAK=1: the long run) -> bench/reliability_report.md
	$(PY) -m bench.faults_benchmark $(if $(SOAK),--soak)

.PHONY: bench-scale
bench-scale: install train ## two rasa instances behind nginx (PostgreSQL, Redis): throughput, order, exactly once -> bench/scale_report.md
	$(PY) -m bench.scale_benchmark

.PHONY: clean
clean: ## remove trained models, results and local state
	rm -rf models/*.tar.gz results var .rasa
