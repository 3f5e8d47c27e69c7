# Sourced by the scripts: defaults for every setting (override in the environment or in .env).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$ROOT/.env" ]; then set -a; . "$ROOT/.env"; set +a; fi
export RASA_TELEMETRY_ENABLED=false
export TTHC_DATA_DIR=${TTHC_DATA_DIR:-$ROOT/var}
export TRACKER_STORE_URL=${TRACKER_STORE_URL:-sqlite:///$TTHC_DATA_DIR/tracker.db}
export RASA_URL=${RASA_URL:-http://127.0.0.1:5005}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:5055/webhook}
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:8080}
# Rasa's HTTP API token: RASA_TOKEN, else the one kept in $TTHC_DATA_DIR/.rasa_token (see ensure_rasa_token).
RASA_TOKEN_FILE="$TTHC_DATA_DIR/.rasa_token"
if [ -z "${RASA_TOKEN:-}" ] && [ -s "$RASA_TOKEN_FILE" ]; then RASA_TOKEN=$(cat "$RASA_TOKEN_FILE"); fi
export RASA_TOKEN=${RASA_TOKEN:-}

ensure_rasa_token() {  # create $TTHC_DATA_DIR/.rasa_token (mode 0600) once, unless RASA_TOKEN is set
  [ -n "$RASA_TOKEN" ] && return 0
  mkdir -p "$TTHC_DATA_DIR"
  if [ ! -s "$RASA_TOKEN_FILE" ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$RASA_TOKEN_FILE.tmp" && mv "$RASA_TOKEN_FILE.tmp" "$RASA_TOKEN_FILE")
  fi
  chmod 600 "$RASA_TOKEN_FILE"
  RASA_TOKEN=$(cat "$RASA_TOKEN_FILE")
  export RASA_TOKEN
}

rasa_server_args() {  # the `rasa run` arguments, one a line, for port $1: the HTTP API only behind $RASA_TOKEN
  [ -n "$RASA_TOKEN" ] || { echo "RASA_TOKEN is empty: call ensure_rasa_token first" >&2; return 1; }
  printf '%s\n' run --enable-api --auth-token "$RASA_TOKEN" -i 127.0.0.1 -p "${1:-5005}" \
    --model models/tthc.tar.gz --endpoints endpoints.yml --credentials credentials.yml
}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Known harmless warnings: SQLAlchemy 2.0 deprecations inside Rasa 3.6, and rasa-sdk 3.21 vs rasa 3.6.
export SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
