#!/usr/bin/env bash
# The scale-out topology on one machine, on 127.0.0.1: PostgreSQL, Redis, nginx, and N (default 2)
# replicas of Rasa, the action server and the gateway behind nginx, plus N notifiers (one leads).
# `make run-cluster`; Ctrl-C stops everything. Ports: CLUSTER_PORT_BASE (default 21000) + offsets below.
# Tests and the bench start it with their own CLUSTER_DIR/CLUSTER_PORT_BASE and read $CLUSTER_DIR/pids/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
umask 077

BASE=${CLUSTER_PORT_BASE:-21000}
N=${CLUSTER_REPLICAS:-2}
CLUSTER_DIR=${CLUSTER_DIR:-$TTHC_DATA_DIR/cluster}
FRONT=$BASE RASA_LB=$((BASE + 1)) ACTIONS_LB=$((BASE + 2)) PG_PORT=$((BASE + 3)) REDIS_PORT=$((BASE + 4))
LOGS=$CLUSTER_DIR/log PIDS=$CLUSTER_DIR/pids
mkdir -p "$CLUSTER_DIR" "$LOGS" "$PIDS" "$TTHC_DATA_DIR"
rm -f "$PIDS"/* "$CLUSTER_DIR/ready"
say() { echo "[cluster] $*"; }
die() { echo "[cluster] error: $*" >&2; exit 1; }

PG_BIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)" 2>/dev/null || true)
[ -x "$PG_BIN/initdb" ] || die "PostgreSQL is not installed (apt-get install postgresql; see requirements/apt.txt)"
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx is not installed (apt-get install nginx)"
[ -f models/tthc.tar.gz ] || die "no trained model: run 'make train' first"
ensure_rasa_token

# PostgreSQL refuses to run as root: then its files belong to the postgres user, outside the private data dir.
if [ "$(id -u)" = 0 ]; then
  PG_DIR=${CLUSTER_PG_DIR:-/var/tmp/tthc-cluster-pg-$BASE}
  as_pg() { runuser -u postgres -- "$@"; }
else
  PG_DIR=${CLUSTER_PG_DIR:-$CLUSTER_DIR/pg}
  as_pg() { "$@"; }
fi

pids=() names=() stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  say "stopping ${names[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  [ -f "$CLUSTER_DIR/nginx.pid" ] && kill -QUIT "$(cat "$CLUSTER_DIR/nginx.pid")" 2>/dev/null || true
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  [ -n "${NGINX_TMP:-}" ] && rm -rf "$NGINX_TMP"
  rm -f "$CLUSTER_DIR/ready"
  say "stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

start() {  # name, command... (own process group, log and pid file)
  local name=$1; shift
  echo "=== $(date -Is) starting: $*" >>"$LOGS/$name.log"
  setsid "$@" >>"$LOGS/$name.log" 2>&1 &
  pids+=("$!"); names+=("$name"); echo "$!" >"$PIDS/$name.pid"
}

wait_http() {  # name, url, seconds
  local name=$1 url=$2 limit=$3 t0; t0=$(date +%s)
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    (( $(date +%s) - t0 > limit )) && { tail -20 "$LOGS/$name.log" >&2; die "$name not up within ${limit}s"; }
    kill -0 "$(cat "$PIDS/$name.pid")" 2>/dev/null || { tail -20 "$LOGS/$name.log" >&2; die "$name exited"; }
    sleep 1
  done
}

t_start=$(date +%s)
# --- PostgreSQL: state, tracker store and catalogue databases ---------------------------------------------
if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
  mkdir -p "$PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  chmod 700 "$PG_DIR"
  # trust on 127.0.0.1 only: this is the single-machine cluster (deploy/compose.yaml uses a password)
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log"
fi
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR -c max_connections=200" \
  >/dev/null || die "PostgreSQL did not start; see $PG_DIR/server.log"
PG="postgresql://postgres@127.0.0.1:$PG_PORT"
for db in tthc rasa rasa_events; do
  as_pg psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || as_pg createdb -h 127.0.0.1 -p "$PG_PORT" -U postgres "$db"
done
export STATE_DB_URL="$PG/tthc" CATALOGUE_DB_URL="$PG/tthc" TRACKER_STORE_URL="$PG/rasa" ANALYTICS_DB_URL="$PG/rasa_events"
# Every schema, the catalogue's and the unanswered log's tables included (migration 0004), before any replica.
.venv/bin/python -m common.migrate >>"$LOGS/migrate.log"
if [ "$(.venv/bin/python -m knowledge stats 2>/dev/null | grep -Eo '^procedures: [0-9]+' | grep -Eo '[0-9]+' || echo 0)" = 0 ]; then
  say "importing the seed catalogue into PostgreSQL"
  .venv/bin/python -m knowledge import knowledge/catalogue/*.yml >>"$LOGS/migrate.log"
fi
# Rasa's tracker and event broker tables, created once before the replicas race to create them.
.venv-rasa/bin/python -c "from bot.tracker_store import RedactingSQLTrackerStore as S; S(host='$TRACKER_STORE_URL')
from bot.event_broker import AnalyticsSQLEventBroker as B; B(host='$ANALYTICS_DB_URL')" >>"$LOGS/migrate.log" 2>&1

# --- Redis (Rasa's lock store) ----------------------------------------------------------------------------
start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --dir "$CLUSTER_DIR"
export REDIS_HOST=127.0.0.1 REDIS_PORT TICKET_LOCK_LIFETIME=${TICKET_LOCK_LIFETIME:-10}

# --- the search index: built once, published to the shared data dir, hot-swapped by every replica ------------
[ -n "$(ls "$TTHC_DATA_DIR/index" 2>/dev/null)" ] || { say "building the search index"; .venv/bin/python -m knowledge build >>"$LOGS/migrate.log"; }

# --- nginx: the public front (gateways), and the balancers in front of Rasa and the action servers ---------
upstream() { local first=$1 i; for ((i = 0; i < N; i++)); do echo "    server 127.0.0.1:$((first + i)) max_fails=1 fail_timeout=3s;"; done; }
# Run as root, nginx's workers are "nobody", who cannot enter the private data dir: their buffers go here.
NGINX_TMP=$(mktemp -d /tmp/tthc-nginx-XXXXXX)
[ "$(id -u)" = 0 ] && chown nobody "$NGINX_TMP"
cat >"$CLUSTER_DIR/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $CLUSTER_DIR/nginx.pid;
error_log $LOGS/nginx.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $NGINX_TMP/body; proxy_temp_path $NGINX_TMP/proxy;
  fastcgi_temp_path $NGINX_TMP/fcgi; uwsgi_temp_path $NGINX_TMP/uwsgi; scgi_temp_path $NGINX_TMP/scgi;
  client_body_buffer_size 256k;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_connect_timeout 2s;
  # A replica that refuses or drops the connection before answering: try the next one.
  proxy_next_upstream error timeout http_502 http_503;
  proxy_next_upstream_tries 3;
  upstream gateways {
$(upstream $((BASE + 30)))
    keepalive 16;
  }
  upstream rasa {
$(upstream $((BASE + 10)))
    keepalive 16;
  }
  upstream actions {
$(upstream $((BASE + 20)))
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$FRONT;
    client_max_body_size 130m;
    proxy_read_timeout 120s;
    location / {
      proxy_pass http://gateways;
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
  # A Rasa or action replica that dies in the middle of a message: nginx sends the message to the other
  # one (non_idempotent). Rasa saves a turn only once it is complete, so the retry starts clean; an
  # action may have counted a failed lookup already (the limiter then counts it twice, on the safe side).
  server {
    listen 127.0.0.1:$RASA_LB; proxy_read_timeout 60s;
    location / { proxy_pass http://rasa; proxy_next_upstream error http_502 http_503 non_idempotent; }
  }
  server {
    listen 127.0.0.1:$ACTIONS_LB; proxy_read_timeout 60s;
    location / { proxy_pass http://actions; proxy_next_upstream error http_502 http_503 non_idempotent; }
  }
}
CONF
"$NGINX" -t -c "$CLUSTER_DIR/nginx.conf" -p "$CLUSTER_DIR" >>"$LOGS/nginx.log" 2>&1 || die "nginx config rejected; see $LOGS/nginx.log"
start nginx "$NGINX" -c "$CLUSTER_DIR/nginx.conf" -p "$CLUSTER_DIR"

# --- the replicas ------------------------------------------------------------------------------------------
export ACTION_SERVER_URL="http://127.0.0.1:$ACTIONS_LB/webhook" RASA_URL="http://127.0.0.1:$RASA_LB"
export GATEWAY_URL="http://127.0.0.1:$FRONT" SMS_DLR_BASE_URL="http://127.0.0.1:$FRONT"
for ((i = 0; i < N; i++)); do
  OMP_NUM_THREADS=1 start "actions$i" .venv/bin/python -m bot.action_server --host 127.0.0.1 --port $((BASE + 20 + i))
  mapfile -t rasa_args < <(rasa_server_args $((BASE + 10 + i)) | sed 's/^endpoints.yml$/endpoints-cluster.yml/')
  start "rasa$i" .venv-rasa/bin/rasa "${rasa_args[@]}"
  GATEWAY_PORT=$((BASE + 30 + i)) start "gateway$i" .venv/bin/python -m connectors
  start "notifier$i" .venv/bin/python -m dossier.notifier
done
start retention .venv/bin/python -m admin.retention

for ((i = 0; i < N; i++)); do
  wait_http "actions$i" "http://127.0.0.1:$((BASE + 20 + i))/health" 240
  wait_http "gateway$i" "http://127.0.0.1:$((BASE + 30 + i))/health" 120
done
for ((i = 0; i < N; i++)); do wait_http "rasa$i" "http://127.0.0.1:$((BASE + 10 + i))/" "${CLUSTER_START_TIMEOUT:-900}"; done
echo "$FRONT" >"$CLUSTER_DIR/ready"
say "all up in $(( $(date +%s) - t_start )) s: web chat http://127.0.0.1:$FRONT/ · $N replicas each · logs $LOGS · Ctrl-C to stop"

# Unlike `make run`, a dying replica does not stop the cluster: the others carry on (that is the point).
while true; do sleep 5; done
