#!/usr/bin/env bash
# Create .venv and install the pinned tsjnet_plugin stack (see docs/install.md).
#
# Idempotent: every step first checks whether its result is already there and skips if so.
# Environment:
#   PYTHON          interpreter to create the venv with (default: python3.11, else python3)
#   VENV            venv folder (default: .venv at the repository root)
#   DETECTRON2_SRC  pip source for detectron2 (default: ../shared/vendor/detectron2-*.tar.gz
#                   beside the checkout if present, else upstream git); a local sdist path works
#   SETUP_CHECK     1: install nothing; say for each step whether it is done or what it would do
#   HEARTBEAT_SECONDS  seconds between "still working" lines during long steps (default 30)
# Sourcing this file defines its functions without running the steps (tests use that).
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
# detectron2 has no registry release: an explicit DETECTRON2_SRC wins, then an upstream source
# archive in ../shared/vendor beside the checkout (machines without GitHub), then upstream git.
if [[ -z "${DETECTRON2_SRC:-}" ]]; then
  for archive in "$ROOT"/../shared/vendor/detectron2-*.tar.gz; do
    [[ -f "$archive" ]] && DETECTRON2_SRC="$archive"
  done
fi
DETECTRON2_SRC="${DETECTRON2_SRC:-git+https://github.com/facebookresearch/detectron2.git@02b5c4e}"
SETUPTOOLS_PIN="setuptools>=77.0.3,<81"
CONSTRAINTS="$ROOT/requirements/constraints.txt"

SETUP_CHECK="${SETUP_CHECK:-0}"
HEARTBEAT_SECONDS="${HEARTBEAT_SECONDS:-30}"
STEP=""
MISSING=0
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# Run "$@" and print "<label>: still working, XmYYs elapsed" every HEARTBEAT_SECONDS until it
# ends (a background loop, stopped when the command returns); then "<label>: done in XmYYs".
# Returns the command's exit status.
with_heartbeat() {
  local label=$1 start rc=0 beat
  shift
  start=$(date +%s)
  (
    nap=""
    trap '[[ -n "$nap" ]] && kill "$nap" 2>/dev/null; exit 0' TERM
    while true; do
      sleep "$HEARTBEAT_SECONDS" &
      nap=$!
      wait "$nap"
      log "$label: still working, $(elapsed_since "$start") elapsed"
    done
  ) &
  beat=$!
  "$@" || rc=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  if ((rc == 0)); then
    log "$label: done in $(elapsed_since "$start")"
  fi
  return "$rc"
}
elapsed_since() {
  local seconds=$(($(date +%s) - $1))
  printf '%dm%02ds' $((seconds / 60)) $((seconds % 60))
}

# Step NAME: skipped when done; in SETUP_CHECK mode only reported.
needs() {
  STEP=$1
  if [[ "$SETUP_CHECK" == 1 ]]; then
    log "[$STEP] missing: would $2"
    MISSING=$((MISSING + 1))
    return 1
  fi
  log "[$STEP] $2"
}
on_error() {
  local rc=$?
  printf '\033[31m[setup] step failed: %s (exit %s)\033[0m\n' "$STEP" "$rc" >&2
  case "$STEP" in
    venv) echo "  fix: install Python 3.11 with the venv module, or set PYTHON=/path/to/python3.11" >&2 ;;
    torch) echo "  fix: check that the package registry is reachable (pip index versions torch)" >&2 ;;
    mmcv) echo "  fix: needs a C++ compiler (g++ >= 10) and ~10 min; see docs/install.md. Logs above." >&2 ;;
    detectron2) echo "  fix: set DETECTRON2_SRC to a detectron2 source archive or git URL you can reach" >&2 ;;
    tsjnet_plugin) echo "  fix: check the messages above; 'make setup' reruns only this step" >&2 ;;
    *) echo "  fix: rerun 'make setup'; completed steps are skipped" >&2 ;;
  esac
  exit "$rc"
}

pip_install() { "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@"; }
# From /: python puts the working directory on sys.path, where a checkout would shadow the install.
have() { (cd / && "$PY" - "$@") >/dev/null 2>&1; }

main() {
  trap on_error ERR
  log "setting up $VENV (steps: venv, torch, mmcv, openmmlab, detectron2, tsjnet_plugin)"
  STEP=venv
  if [[ ! -x "$PY" ]]; then
    BASE_PY="${PYTHON:-$(command -v python3.11 || command -v python3 || echo python3.11)}"
    if needs venv "create the virtual environment $VENV with $BASE_PY"; then
      "$BASE_PY" -m venv "$VENV"
    else
      log "(the later steps need the venv; nothing more to check)"
      return 0
    fi
  else
    log "[venv] $VENV exists"
  fi

  if ! have <<'PY'
import torch, torchvision, setuptools
from packaging.version import Version
assert torch.__version__.split("+")[0] == "2.14.1" and torchvision.__version__.split("+")[0] == "0.29.1"
assert Version("77.0.3") <= Version(setuptools.__version__) < Version("81")
PY
  then
    if needs torch "install torch 2.14.1, torchvision 0.29.1 and build tools (about 1-2 min)"; then
      with_heartbeat "[torch] pip" "$PY" -m pip install --disable-pip-version-check -q -U pip
      with_heartbeat "[torch] pip install torch" pip_install "torch==2.14.1" "torchvision==0.29.1" \
        "$SETUPTOOLS_PIN" wheel packaging ninja
    fi
  else
    log "[torch] torch 2.14.1 / torchvision 0.29.1 present"
  fi

  if ! have <<'PY'
import mmcv
from mmcv.ops import nms, roi_align
assert mmcv.__version__ == "2.1.0"
PY
  then
    if needs mmcv "build mmcv 2.1.0 with compiled ops (about 10 min on 2 cores; pip caches the wheel)"; then
      with_heartbeat "[mmcv] pip install mmengine" pip_install "$SETUPTOOLS_PIN" "mmengine==0.10.7"
      CXX="$ROOT/tools/cxx20" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
        with_heartbeat "[mmcv] compiling mmcv ops" pip_install --no-build-isolation "mmcv==2.1.0"
    fi
  else
    log "[mmcv] mmcv 2.1.0 with ops present"
  fi

  if ! have <<'PY'
import mmengine, mmseg, mmdet, ftfy, regex
assert (mmengine.__version__, mmseg.__version__, mmdet.__version__) == ("0.10.7", "1.2.2", "3.3.0")
PY
  then
    if needs openmmlab "install mmengine 0.10.7, mmsegmentation 1.2.2, mmdet 3.3.0"; then
      with_heartbeat "[openmmlab] pip install" pip_install "mmengine==0.10.7" \
        "mmsegmentation==1.2.2" "mmdet==3.3.0" ftfy regex "$SETUPTOOLS_PIN"
    fi
  else
    log "[openmmlab] mmengine / mmseg / mmdet present"
  fi

  if ! have <<'PY'
import detectron2
from detectron2 import _C
PY
  then
    if needs detectron2 "build detectron2 from $DETECTRON2_SRC (about 2 min)"; then
      with_heartbeat "[detectron2] compiling" pip_install --no-build-isolation "$DETECTRON2_SRC"
    fi
  else
    log "[detectron2] detectron2 present"
  fi

  if ! have <<PY
import pathlib, tsjnet_plugin
assert pathlib.Path(tsjnet_plugin.__file__).resolve().parent == pathlib.Path("$ROOT/tsjnet_plugin").resolve()
import natten, pytest, ruff
PY
  then
    if needs tsjnet_plugin "install tsjnet_plugin from $ROOT (editable) with natten and dev tools"; then
      with_heartbeat "[tsjnet_plugin] pip install" pip_install --no-build-isolation -e "$ROOT[mm,dev]"
    fi
  else
    log "[tsjnet_plugin] tsjnet_plugin (editable, $ROOT) present"
  fi

  if [[ "$SETUP_CHECK" == 1 ]]; then
    log "check only: $MISSING step(s) to do; run 'make setup' to do them"
    return 0
  fi
  STEP=check
  log "[check] environment ready: $VENV"
  "$PY" -m tsjnet_plugin.env --short
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
