#!/usr/bin/env bash
# Start the whole stack on 127.0.0.1 with logs in var/log/; Ctrl-C (or any process dying) stops all.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# Personal data lives under the data dir: everything the stack creates is for this user only (0600/0700),
# and files left world-readable by older versions are closed too.
umask 077
mkdir -p "$TTHC_DATA_DIR" var/log
chmod -R go-rwx "$TTHC_DATA_DIR" var/log
[ -f models/tthc.tar.gz ] || { echo "[run] no trained model: run 'make train' first" >&2; exit 1; }

pids=()
names=()
stopping=0
stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  echo "[run] stopping ${names[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  echo "[run] stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

start() {  # name, command...
  local name=$1; shift
  echo "=== $(date -Is) starting: $*" >>"var/log/$name.log"
  # setsid: each service gets its own process group, so Ctrl-C reaches only this script.
  setsid "$@" >>"var/log/$name.log" 2>&1 &
  pids+=("$!"); names+=("$name")
  echo "[run] $name started (pid $!, log var/log/$name.log)"
}

wait_http() {  # name, url, seconds
  local name=$1 url=$2 limit=$3 t0; t0=$(date +%s)
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if (( $(date +%s) - t0 > limit )); then
      echo "[run] $name did not come up within ${limit}s; see var/log/$name.log" >&2; tail -20 "var/log/$name.log" >&2
      return 1
    fi
    for i in "${!pids[@]}"; do
      kill -0 "${pids[$i]}" 2>/dev/null || { echo "[run] ${names[$i]} exited; see var/log/${names[$i]}.log" >&2; tail -20 "var/log/${names[$i]}.log" >&2; return 1; }
    done
    sleep 1
  done
  echo "[run] $name ready after $(( $(date +%s) - t0 )) s"
}

t_start=$(date +%s)
OMP_NUM_THREADS=1 start actions .venv/bin/python -m bot.action_server --host 127.0.0.1 --port 5055
rasa_args=(run --enable-api -i 127.0.0.1 -p 5005 --model models/tthc.tar.gz --endpoints endpoints.yml --credentials credentials.yml)
[ -n "${RASA_TOKEN:-}" ] && rasa_args+=(--auth-token "$RASA_TOKEN")
start rasa .venv-rasa/bin/rasa "${rasa_args[@]}"
start gateway .venv/bin/python -m connectors
start voice .venv/bin/python -m connectors.voice
start notifier .venv/bin/python -m dossier.notifier
start retention .venv/bin/python -m admin.retention

wait_http actions http://127.0.0.1:5055/health 180
wait_http gateway "$GATEWAY_URL/health" 60
wait_http voice "http://127.0.0.1:${VOICE_HTTP_PORT:-8090}/health" 60
wait_http rasa http://127.0.0.1:5005/ 300
echo "[run] all up in $(( $(date +%s) - t_start )) s — web chat: $GATEWAY_URL/ · admin: $GATEWAY_URL/admin/ · REST: $RASA_URL/webhooks/rest/webhook · SIP: udp 127.0.0.1:${VOICE_SIP_PORT:-5060} · Ctrl-C to stop"

# Stop everything as soon as one service dies.
while true; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "[run] ${names[$i]} exited; see var/log/${names[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 2
done
