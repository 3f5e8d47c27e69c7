#!/usr/bin/env bash
# Train the Rasa model only when its inputs changed (fingerprint of config, domain, data, components).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
want=$(cat config.yml domain.yml requirements/rasa.lock common/text.py bot/nlu/*.py \
  $(find data -type f -name '*.yml' | sort) | sha256sum | cut -c1-16)
if [ -f models/tthc.tar.gz ] && [ "$(cat models/.fingerprint 2>/dev/null)" = "$want" ]; then
  echo "[train] model up to date (models/tthc.tar.gz)"; exit 0
fi
echo "[train] training the Rasa model (about 2-4 minutes on 2 cores)"
start=$(date +%s)
.venv-rasa/bin/rasa train --config config.yml --domain domain.yml --data data \
  --out models --fixed-model-name tthc --quiet
echo "$want" > models/.fingerprint
echo "[train] done in $(( $(date +%s) - start )) s"
