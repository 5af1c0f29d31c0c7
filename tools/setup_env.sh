#!/usr/bin/env bash
# Create .venv and install the pinned tsjnet_plugin stack (see docs/install.md).
#
# Idempotent: every step first checks whether its result is already there and skips if so.
# Environment:
#   PYTHON          interpreter to create the venv with (default: python3.11, else python3)
#   VENV            venv folder (default: .venv at the repository root)
#   DETECTRON2_SRC  pip source for detectron2 (default: ../shared/vendor/detectron2-*.tar.gz
#                   beside the checkout if present, else upstream git); a local sdist path works
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

STEP=""
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
on_error() {
  local rc=$?
  printf '\033[31m[setup] step failed: %s (exit %s)\033[0m\n' "$STEP" "$rc" >&2
  case "$STEP" in
    venv) echo "  fix: install Python 3.11 with the venv module, or set PYTHON=/path/to/python3.11" >&2 ;;
    torch) echo "  fix: check that the package registry is reachable (pip index versions torch)" >&2 ;;
    mmcv) echo "  fix: needs a C++ compiler (g++ >= 10) and ~10 min; see docs/install.md. Logs above." >&2 ;;
    detectron2) echo "  fix: set DETECTRON2_SRC to a detectron2 source archive or git URL you can reach" >&2 ;;
    *) echo "  fix: rerun 'make setup'; completed steps are skipped" >&2 ;;
  esac
  exit "$rc"
}
trap on_error ERR

pip_install() { "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@"; }
have() { "$PY" - "$@" >/dev/null 2>&1; }

STEP=venv
if [[ ! -x "$PY" ]]; then
  BASE_PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
  log "creating virtual environment $VENV with $BASE_PY"
  "$BASE_PY" -m venv "$VENV"
else
  log "virtual environment $VENV exists"
fi

STEP=torch
if ! have <<'PY'
import torch, torchvision, setuptools
from packaging.version import Version
assert torch.__version__.split("+")[0] == "2.14.1" and torchvision.__version__.split("+")[0] == "0.29.1"
assert Version("77.0.3") <= Version(setuptools.__version__) < Version("81")
PY
then
  log "installing torch 2.14.1, torchvision 0.29.1 and build tools (about 1-2 min)"
  "$PY" -m pip install --disable-pip-version-check -q -U pip
  pip_install "torch==2.14.1" "torchvision==0.29.1" "$SETUPTOOLS_PIN" wheel packaging ninja
else
  log "torch 2.14.1 / torchvision 0.29.1 present"
fi

STEP=mmcv
if ! have <<'PY'
import mmcv
from mmcv.ops import nms, roi_align
assert mmcv.__version__ == "2.1.0"
PY
then
  log "building mmcv 2.1.0 with compiled ops (about 10 min on 2 cores; pip caches the wheel)"
  pip_install "$SETUPTOOLS_PIN" "mmengine==0.10.7"
  CXX="$ROOT/tools/cxx20" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
    pip_install --no-build-isolation "mmcv==2.1.0"
else
  log "mmcv 2.1.0 with ops present"
fi

STEP=openmmlab
if ! have <<'PY'
import mmengine, mmseg, mmdet, ftfy, regex
assert (mmengine.__version__, mmseg.__version__, mmdet.__version__) == ("0.10.7", "1.2.2", "3.3.0")
PY
then
  log "installing mmengine 0.10.7, mmsegmentation 1.2.2, mmdet 3.3.0"
  pip_install "mmengine==0.10.7" "mmsegmentation==1.2.2" "mmdet==3.3.0" ftfy regex "$SETUPTOOLS_PIN"
else
  log "mmengine / mmseg / mmdet present"
fi

STEP=detectron2
if ! have <<'PY'
import detectron2
from detectron2 import _C
PY
then
  log "building detectron2 from $DETECTRON2_SRC (about 2 min)"
  pip_install --no-build-isolation "$DETECTRON2_SRC"
else
  log "detectron2 present"
fi

STEP=tsjnet_plugin
if ! have <<PY
import pathlib, tsjnet_plugin
assert pathlib.Path(tsjnet_plugin.__file__).resolve().parent == pathlib.Path("$ROOT/tsjnet_plugin").resolve()
import natten, pytest, ruff
PY
then
  log "installing tsjnet_plugin (editable) with natten and dev tools"
  pip_install --no-build-isolation -e "$ROOT[mm,dev]"
else
  log "tsjnet_plugin (editable) present"
fi

STEP=check
log "environment ready: $VENV"
"$PY" -m tsjnet_plugin.env --short
