#!/usr/bin/env bash
# Benchmarks; each writes bench/results/<name>.json. Not part of CI (they take minutes).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mkdir -p bench/results
echo "== NLU: accented vs unaccented, ours vs baseline, cross-validation"
.venv-rasa/bin/python bench/nlu_bench.py
for bench in knowledge_bench channels_bench voice_bench; do
  if [ -f "bench/$bench.py" ]; then
    echo "== $bench"
    OMP_NUM_THREADS=2 .venv/bin/python "bench/$bench.py"
  fi
done
echo "== import_bench (hostile import files)"
.venv/bin/python bench/import_bench.py
echo "results in bench/results/"
