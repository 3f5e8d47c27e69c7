#!/usr/bin/env bash
# The whole test suite (what CI runs after setup and training). Exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
export TTHC_TEST=1
passed=0; failed=0; failed_steps=()

step() {  # name, command...
  local name=$1; shift
  echo; echo "==== $name"
  local t0; t0=$(date +%s)
  if "$@"; then
    passed=$((passed + 1)); echo "==== $name: ok ($(( $(date +%s) - t0 )) s)"
  else
    failed=$((failed + 1)); failed_steps+=("$name"); echo "==== $name: FAILED ($(( $(date +%s) - t0 )) s)"
  fi
}

rasa_cmd() { .venv-rasa/bin/rasa "$@"; }

step "ruff" .venv/bin/ruff check .
step "mypy" .venv/bin/mypy
step "import contracts (.importlinter)" .venv/bin/lint-imports --no-cache
step "pytest (.venv-rasa: tokenizer, NLU components, tracker store, REST channel)" \
  .venv-rasa/bin/python -m pytest -q -p no:cacheprovider tests/nlu tests/security/test_pii_masking.py \
  tests/security/test_tracker_store.py tests/security/test_tracker_store_conversation.py \
  tests/security/test_rasa_rest_channel.py tests/security/test_event_broker.py tests/dialogue/test_tracker_window.py tests/dialogue/test_payload_parse.py tests/dialogue/test_rasa_speedups.py
step "pytest (.venv: actions, knowledge, dossier, connectors, ...)" \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests --ignore=tests/nlu
step "rasa data validate" rasa_cmd data validate --fail-on-warnings --config config.yml --domain domain.yml --data data
step "rasa test nlu (held-out set, macro F1 >= 0.90)" bash -c '
  rm -rf results/nlu && mkdir -p results &&
  .venv-rasa/bin/rasa test nlu --nlu tests/nlu/test_nlu.yml --model models/tthc.tar.gz --out results/nlu --no-plot >results/nlu.log 2>&1 ||
  { tail -30 results/nlu.log; exit 1; }
  .venv/bin/python scripts/check_nlu.py results/nlu 0.90'
step "rasa test core (test stories, no prediction errors)" bash -c '
  rm -rf results/core results/test_stories && mkdir -p results/test_stories &&
  for f in tests/*/test_stories*.yml; do cp "$f" "results/test_stories/$(basename "$(dirname "$f")")_$(basename "$f")"; done &&
  .venv-rasa/bin/rasa test core --stories results/test_stories --model models/tthc.tar.gz --out results/core \
    --fail-on-prediction-errors --no-plot >results/core.log 2>&1 ||
  { tail -40 results/core.log; cat results/core/failed_test_stories.yml 2>/dev/null | head -80; exit 1; }
  grep -E "Correct|Finished" results/core.log | tail -3'
step "stack smoke test (make run; REST, web chat, restart keeps the conversation)" \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/stack --run-stack
step "cluster (make run-cluster: 2 replicas each on PostgreSQL, Redis, nginx; context across replicas, index publish)" \
  .venv/bin/python -m pytest -q -p no:cacheprovider tests/cluster -m cluster --run-cluster

echo
if ((failed)); then echo "failed steps: ${failed_steps[*]}"; fi
echo "steps: $passed passed, $failed failed"
((failed == 0))
