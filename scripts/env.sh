# Sourced by the scripts: defaults for every setting (override in the environment or in .env).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$ROOT/.env" ]; then set -a; . "$ROOT/.env"; set +a; fi
export RASA_TELEMETRY_ENABLED=false
export TTHC_DATA_DIR=${TTHC_DATA_DIR:-$ROOT/var}
export TRACKER_STORE_URL=${TRACKER_STORE_URL:-sqlite:///$TTHC_DATA_DIR/tracker.db}
export RASA_URL=${RASA_URL:-http://127.0.0.1:5005}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:5055/webhook}
export GATEWAY_URL=${GATEWAY_URL:-http://127.0.0.1:8080}
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Known harmless warnings: SQLAlchemy 2.0 deprecations inside Rasa 3.6, and rasa-sdk 3.21 vs rasa 3.6.
export SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
