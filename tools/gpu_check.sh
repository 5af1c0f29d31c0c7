#!/usr/bin/env bash
# The GPU check: on a GPU machine that has torch but no package registry, in about 8 minutes,
# install what is missing from .gpu_wheels/ (made here by tools/gpu_check_prepare.sh), build
# detectron2's ops for the local torch, GPU and compiler, run the CUDA tests (tests/gpu) and the
# GPU benchmark, and print one summary. docs/gpu.md describes it.
#
#   bash tools/gpu_check.sh [OUT_DIR]    # default: $OUT if set (the device tool's), else output/gpu_check
#
# Environment: PYTHON (an interpreter with torch; default: python, then python3), WHEELS (default
# .gpu_wheels), BUDGET_S (default 480: steps that would start past it are skipped), MAX_JOBS
# (default: all cores), BENCH_ARGS (replaces the benchmark's default selection).
# Writes OUT_DIR/{gpu_check.log, summary.txt, detectron2_build.log, pytest_*.txt, benchmark/}.
# Exit status: 0 when every step that ran passed, 1 otherwise, 2 without a usable Python/torch.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT_DIR="${1:-${OUT:-$ROOT/output/gpu_check}}"
WHEELS="${WHEELS:-$ROOT/.gpu_wheels}"
BUDGET_S="${BUDGET_S:-480}"
JOBS="${MAX_JOBS:-$(nproc)}"
BENCH_ARGS="${BENCH_ARGS:---archs official fast --sizes 480x640 1024x1280 --precisions bfloat16 \
--backends torch flex --train-archs official --train-size 480x640 --train-batch 2 --repeats 3}"
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_check.log"
: >"$LOG"
START=$SECONDS
FAILED=0
SUMMARY=()

say() { echo "[gpu_check $((SECONDS - START))s] $*" | tee -a "$LOG"; }
record() {  # step, result; a result starting with "FAIL" fails the check
  SUMMARY+=("$(printf '%-12s %s' "$1:" "$2")")
  [[ $2 == FAIL* ]] && FAILED=1
  say "$1: $2"
}
left() {  # seconds left of the budget, at least 1 (for timeout)
  local seconds=$((BUDGET_S - (SECONDS - START)))
  echo $((seconds > 0 ? seconds : 1))
}
pytest_line() {  # the last summary line of a pytest log ("3 passed, 1 skipped in 20.1s")
  grep -E '(passed|failed|skipped|error|no tests ran)' "$1" | tail -1 | sed 's/=//g; s/^ *//; s/ *$//'
}

# --- Python with torch ----------------------------------------------------------------------
PY=""
for candidate in "${PYTHON:-}" python python3; do
  if [[ -n $candidate ]] && command -v "$candidate" >/dev/null &&
    "$candidate" -c "import torch" 2>/dev/null; then
    PY="$(command -v "$candidate")"
    break
  fi
done
if [[ -z $PY ]]; then
  echo "gpu_check.sh: no Python with torch (set PYTHON=/path/to/python)" >&2
  exit 2
fi
# A virtual environment over the system's packages keeps the machine's own install untouched.
VENV="${TMPDIR:-/tmp}/tsjnet_gpu_check_venv"
if [[ -x $VENV/bin/python ]] || "$PY" -m venv --system-site-packages "$VENV" >>"$LOG" 2>&1; then
  "$VENV/bin/python" -c "import torch" 2>/dev/null && PY="$VENV/bin/python"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PIP_BREAK_SYSTEM_PACKAGES=1

# --- 1. the machine: torch, GPU, the compiler torch was built with --------------------------
eval "$("$PY" - <<'PY'
import re, shlex, sys
import torch
cuda = torch.cuda.is_available()
gcc = re.search(r"GCC (\d+)", torch.__config__.show())
values = {
    "PY_VERSION": sys.version.split()[0],
    "TORCH": torch.__version__,
    "TORCH_CUDA": torch.version.cuda or "none",
    "GPU": torch.cuda.get_device_name(0) if cuda else "none",
    "CAPABILITY": "%d.%d" % torch.cuda.get_device_capability(0) if cuda else "",
    "TORCH_GCC": gcc.group(1) if gcc else "",
}
for key, value in values.items():
    print(f"{key}={shlex.quote(str(value))}")
PY
)"
record machine "$GPU (sm $CAPABILITY), torch $TORCH (CUDA $TORCH_CUDA), Python $PY_VERSION, torch built with GCC ${TORCH_GCC:-?}"
if [[ $GPU == none ]]; then
  record cuda "FAIL: torch sees no CUDA device"
fi

# --- 2. install what is missing (core: tests and benchmark; d2: detectron2's dependencies) ---
for tier in core d2; do
  requirements="$WHEELS/requirements-$tier.txt"
  if [[ ! -f $requirements ]]; then
    record "install $tier" "FAIL: no $requirements (run tools/gpu_check_prepare.sh and carry .gpu_wheels)"
  elif "$PY" -m pip install --disable-pip-version-check -q --no-index --no-deps \
    --find-links "$WHEELS" -r "$requirements" >>"$LOG" 2>&1; then
    record "install $tier" "ok"
  else
    record "install $tier" "FAIL: pip could not install from $WHEELS (see gpu_check.log)"
  fi
done

# --- 3. detectron2's ops, built in the background with torch's compiler ----------------------
pick_compiler() {  # prints "CC CXX" of the GCC torch was built with, if this machine has it
  local want=$1 dir
  for dir in "" /opt/rh/gcc-toolset-"$want"/root/usr/bin /usr/lib/gcc-toolset-"$want"/bin; do
    if [[ -z $dir ]] && command -v "g++-$want" >/dev/null && command -v "gcc-$want" >/dev/null; then
      echo "$(command -v "gcc-$want") $(command -v "g++-$want")"
      return
    fi
    if [[ -n $dir && -x $dir/g++ && -x $dir/gcc ]]; then
      echo "$dir/gcc $dir/g++"
      return
    fi
  done
  if command -v g++ >/dev/null && [[ $(g++ -dumpversion | cut -d. -f1) == "$want" ]]; then
    echo "$(command -v gcc) $(command -v g++)"
  fi
}
D2_PID=""
D2_STATUS=""
if ! "$PY" -c "import torchvision" 2>/dev/null; then
  D2_STATUS="skipped: torchvision is not installed (it must match torch; not carried)"
elif "$PY" -c "from detectron2 import _C" 2>/dev/null; then
  D2_STATUS="already installed"
else
  read -r CC CXX <<<"$(pick_compiler "$TORCH_GCC")"
  if [[ -z ${CXX:-} ]]; then
    CC="$(command -v gcc || true)" CXX="$(command -v g++ || true)"
    COMPILER_NOTE="g++ $(g++ -dumpversion 2>/dev/null), NOT torch's GCC ${TORCH_GCC:-?}: the env report is probed below"
  else
    COMPILER_NOTE="$CXX (GCC $("$CXX" -dumpversion), as torch)"
  fi
  NVCC="$(command -v nvcc || true)"
  for home in "${CUDA_HOME:-}" /usr/local/cuda; do
    [[ -z $NVCC && -n $home && -x $home/bin/nvcc ]] && NVCC="$home/bin/nvcc"
  done
  if [[ -n $NVCC ]]; then
    export CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$NVCC")")}" FORCE_CUDA=1
    D2_KIND="CUDA ops for sm $CAPABILITY"
  else
    export FORCE_CUDA=0
    D2_KIND="CPU ops only: no nvcc (Faster R-CNN uses torchvision's CUDA ops)"
  fi
  SRC="$(ls "$WHEELS"/detectron2-*.tar.gz 2>/dev/null | head -1)"
  if [[ -z $SRC ]]; then
    D2_STATUS="FAIL: no detectron2-*.tar.gz in $WHEELS"
  else
    say "building detectron2 ($D2_KIND) with $COMPILER_NOTE, $JOBS jobs"
    BUILD_DIR="$(mktemp -d)"
    tar -xzf "$SRC" -C "$BUILD_DIR"
    D2_DIR="$(dirname "$(find "$BUILD_DIR" -maxdepth 2 -name setup.py | head -1)")"
    D2_START=$SECONDS
    BUILD_ENV=("MAX_JOBS=$JOBS")
    [[ -n $CC ]] && BUILD_ENV+=("CC=$CC" "CXX=$CXX")
    [[ -n $CAPABILITY ]] && BUILD_ENV+=("TORCH_CUDA_ARCH_LIST=$CAPABILITY")
    env "${BUILD_ENV[@]}" timeout "$(left)" "$PY" -m pip install --disable-pip-version-check \
      --no-index --no-deps --no-build-isolation "$D2_DIR" >"$OUT_DIR/detectron2_build.log" 2>&1 &
    D2_PID=$!
  fi
fi

# --- 4. the core CUDA tests (need torch only), while detectron2 builds ----------------------
run_pytest() {  # name, test files...
  local name=$1
  shift
  timeout "$(left)" "$PY" -m pytest -m cuda -q -rs -p no:cacheprovider "$@" \
    >"$OUT_DIR/pytest_$name.txt" 2>&1
  local rc=$? line
  line="$(pytest_line "$OUT_DIR/pytest_$name.txt")"
  case $rc in
    0) if [[ $name == core && $line != *passed* ]]; then
      record "tests $name" "FAIL: nothing passed ($line)"
    else
      record "tests $name" "ok: $line"
    fi ;;
    5) record "tests $name" "FAIL: no test ran" ;;
    124) record "tests $name" "FAIL: out of time (BUDGET_S=$BUDGET_S)" ;;
    *) record "tests $name" "FAIL: ${line:-exit $rc} (pytest_$name.txt)" ;;
  esac
}
run_pytest core tests/gpu/test_gpu_attention.py tests/gpu/test_gpu_checkpointing.py \
  tests/gpu/test_gpu_predictor_amp.py

if [[ -n $D2_PID ]]; then
  if wait "$D2_PID"; then
    D2_STATUS="built ($D2_KIND) with $COMPILER_NOTE in $((SECONDS - D2_START)) s"
  else
    D2_STATUS="FAIL: build failed or ran out of time (detectron2_build.log)"
  fi
fi
record detectron2 "$D2_STATUS"
if "$PY" -c "import detectron2" 2>/dev/null; then
  # detectron2's environment report calls _C.get_compiler_version(), which segfaulted on a
  # machine where _C was built with another compiler than torch's.
  "$PY" -c "from detectron2.utils.collect_env import collect_env_info; print(collect_env_info())" \
    >"$OUT_DIR/detectron2_env.txt" 2>&1
  rc=$?
  if ((rc == 0)); then
    record "d2 env" "ok (detectron2_env.txt)"
  else
    record "d2 env" "FAIL: detectron2's environment report exited $rc ($((rc > 128 ? rc - 128 : 0)) = signal; 11: segfault, see docs/gpu.md)"
  fi
fi

# --- 5. the framework tests (skip themselves where a framework is missing) and the tool ---
if (($(left) > 60)); then
  run_pytest frameworks tests/gpu/test_gpu_d2_amp.py tests/gpu/test_gpu_mm_amp.py \
    tests/gpu/test_gpu_benchmark.py
else
  record "tests frameworks" "FAIL: skipped, out of time"
fi

# --- 6. the GPU benchmark (nothing else runs, so its timings are undisturbed) ---------------
if (($(left) > 30)); then
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of arguments
  timeout "$(left)" "$PY" tools/benchmark.py --device cuda --out "$OUT_DIR/benchmark" $BENCH_ARGS \
    >"$OUT_DIR/benchmark.txt" 2>&1
  rc=$?
  if ((rc == 0)); then
    record benchmark "$("$PY" - "$OUT_DIR/benchmark/benchmark.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))
rows = results["inference"] + results["training"]
errors = [r for r in rows if "error" in r]
line = f"ok: {len(rows) - len(errors)} rows, {len(errors)} failed"
plain = {(r["backend"], r["precision"]): r for r in results["training"]
         if not r["with_cp"] and "step_s" in r}
for r in results["training"]:
    base = plain.get((r["backend"], r["precision"]))
    if r["with_cp"] and base and "step_s" in r and r["arch"] == "official":
        gib, ratio = r["peak_memory_mib"] / 1024, r["step_s"] / base["step_s"]
        verdict = "meets" if gib <= 16 and ratio <= 1.5 else "MISSES"
        line += (f"; with_cp {r['backend']} {r['precision']}: {r['step_s']:.2f} s, {gib:.1f} GiB"
                 f", {ratio:.2f}x the time ({verdict} <= 16 GiB, <= 1.5x)")
print(line)
PY
)"
  else
    record benchmark "FAIL: exit $rc (benchmark.txt)"
  fi
else
  record benchmark "FAIL: skipped, out of time"
fi

{
  echo "==== tsjnet_plugin GPU check: $((SECONDS - START)) s (budget $BUDGET_S s) ===="
  printf '%s\n' "${SUMMARY[@]}"
  echo "result:      $([[ $FAILED == 0 ]] && echo PASS || echo FAIL)  (files in $OUT_DIR)"
} | tee "$OUT_DIR/summary.txt"
exit "$FAILED"
