#!/usr/bin/env bash
# Prepare tools/gpu_check.sh: fill .gpu_wheels/ (git-ignored) with what it installs on a GPU
# machine that has torch but no package registry. Run here, in the project's environment:
#
#   bash tools/gpu_check_prepare.sh            # PY=/path/to/python to use another interpreter
#
# Writes, within BUDGET_MB (default 60; the device tool carries at most 64 MiB):
# - wheels rebuilt from this environment's installed packages (tools/repack_wheels.py): the
#   import closure of the core tests and the benchmark (tier "core": pytest, numpy, pillow, build
#   tools) and of the detectron2 tests (tier "d2": fvcore, iopath, omegaconf, pycocotools, ...),
#   without torch and its own dependencies, torchvision, natten, opencv, mmcv and the frameworks'
#   own sources; requirements-<tier>.txt lists each tier's names;
# - the detectron2 source archive (../shared/vendor/detectron2-*.tar.gz or $DETECTRON2_SRC),
#   built on the GPU machine for its torch, GPU and compiler.
# The OpenMMLab tier is not carried: its closure (opencv, scipy, scikit-image, matplotlib, ...)
# is over 170 MB and mmcv's CUDA ops take longer to build than the check may run; gpu_check.sh
# runs the mm test only where mmcv with CUDA ops, mmdet and mmseg are installed already.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PY:-$ROOT/.venv/bin/python}"
DEST="${DEST:-$ROOT/.gpu_wheels}"
BUDGET_MB="${BUDGET_MB:-60}"
if [[ -z "${DETECTRON2_SRC:-}" ]]; then
  for archive in "$ROOT"/../shared/vendor/detectron2-*.tar.gz; do
    [[ -f "$archive" ]] && DETECTRON2_SRC="$archive"
  done
fi
if [[ ! -x "$PY" ]]; then
  echo "gpu_check_prepare.sh: no Python at $PY; set PY=/path/to/the/project/venv/python" >&2
  exit 2
fi
if [[ ! -f "${DETECTRON2_SRC:-}" ]]; then
  echo "gpu_check_prepare.sh: no detectron2 source archive; set DETECTRON2_SRC=/path/to/detectron2.tar.gz" >&2
  exit 2
fi

# torch and what a torch install brings, the packages built on the GPU machine, optional
# packages the tests do without (natten: 'auto' picks torch/flex; opencv: detectron2's imports
# of cv2 are optional).
EXCLUDE=(torch torchvision triton 'nvidia-*' 'cuda-*' filelock fsspec jinja2 markupsafe networkx
  sympy mpmath natten detectron2 mmcv tsjnet-plugin opencv-python)
CORE_IMPORTS=(pytest numpy PIL tsjnet_plugin tsjnet_plugin.benchmark tsjnet_plugin.env)
CORE_DISTS=(setuptools wheel ninja pytest pluggy iniconfig packaging pygments)
D2_IMPORTS=(tsjnet_plugin.d2 detectron2.engine detectron2.evaluation detectron2.checkpoint
  detectron2.utils.collect_env pycocotools.cocoeval)

rm -rf "$DEST"
mkdir -p "$DEST"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
repack() {  # tier, then repack_wheels.py arguments
  local tier=$1
  shift
  PYTHONWARNINGS=ignore "$PY" "$ROOT/tools/repack_wheels.py" --out "$DEST" \
    --exclude "${EXCLUDE[@]}" "$@" |
    "$PY" -c 'import json, sys; [print(json.loads(line)["name"]) for line in sys.stdin]' \
    >"$DEST/requirements-$tier.txt"
}
repack core --import "${CORE_IMPORTS[@]}" --dists "${CORE_DISTS[@]}"
repack d2 --import "${D2_IMPORTS[@]}"
cp "$DETECTRON2_SRC" "$DEST/"

total_kb=$(du -sk "$DEST" | cut -f1)
echo "[gpu_check_prepare] $DEST: $(ls "$DEST"/*.whl | wc -l) wheels + $(basename "$DETECTRON2_SRC"), $((total_kb / 1024)) MB"
echo "  core: $(tr '\n' ' ' <"$DEST/requirements-core.txt")"
echo "  d2:   $(tr '\n' ' ' <"$DEST/requirements-d2.txt")"
if ((total_kb > BUDGET_MB * 1024)); then
  echo "gpu_check_prepare.sh: $DEST holds $((total_kb / 1024)) MB, over BUDGET_MB=$BUDGET_MB" >&2
  exit 1
fi
