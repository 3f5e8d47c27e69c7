#!/usr/bin/env bash
# Benchmarks; each writes bench/results/<name>.json. Not part of CI (they take minutes).
# `bash scripts/bench.sh efficiency` (or any of nlu, knowledge, channels, voice, import) runs only those.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
mkdir -p bench/results
names="$*"
want() { [ -z "$names" ] || [[ " $names " == *" $1 "* ]]; }
if want nlu; then
  echo "== NLU: accented vs unaccented, ours vs baseline, cross-validation"
  .venv-rasa/bin/python bench/nlu_bench.py
fi
for bench in knowledge channels voice efficiency; do
  if want "$bench" && [ -f "bench/${bench}_bench.py" ]; then
    echo "== ${bench}_bench"
    OMP_NUM_THREADS=2 .venv/bin/python "bench/${bench}_bench.py"
  fi
done
if want import; then
  echo "== import_bench (hostile import files)"
  .venv/bin/python bench/import_bench.py
fi
echo "results in bench/results/"
