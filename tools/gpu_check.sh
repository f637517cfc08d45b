#!/usr/bin/env bash
# GPU machine check of the CUDA backend, in about 8 minutes (each step has
# its own timeout, all within GPU_CHECK_BUDGET seconds; a failed step is
# logged and the script goes on):
#   1. nvidia-smi, NVRTC location, hetl devices
#   2. HETL_REQUIRE_CUDA=1 cargo test --release --test cuda_diff (bit-exact vs CPU)
#   3. hetl bench --backend cuda (and cpu, for reference) --preset n14/n15/n16
#      --batch 1,8,64 --ops ntt,mul_relin,rotate,rescale --json
#   4. best effort, clearly separate: DESILO FHE (desilofhe-cu1xx matching the
#      driver's CUDA version) on comparable ops, via tools/bench_desilo.py
# Everything goes under $OUT (default ./gpu_check_out): one log per step,
# bench JSON lines in bench_*.jsonl, and summary.txt with every step's status.
#
# NVRTC: libnvrtc.so.12 from the CUDA toolkit, from $HETL_NVRTC_DIR, from an
# unpacked nvidia-cuda-nvrtc-cu12 wheel (as .ci/run leaves it in
# ~/.cache/hetl-ci), or from a pip-installed wheel; else the script tries
# `pip download` (needs network).
#
# Usage: OUT=/some/dir [GPU_CHECK_BUDGET=470] bash tools/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
NVRTC_VERSION="12.9.86"
CACHE="$HOME/.cache/hetl-ci"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"

log() {
    echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"
}

# Whole-script budget (seconds): a step gets at most what is left of it.
BUDGET="${GPU_CHECK_BUDGET:-470}"
START=$(date +%s)

# step NAME SECONDS CMD...: runs CMD with a timeout (at most the budget left),
# output to $OUT/NAME.log.
step() {
    local name="$1" limit="$2"
    shift 2
    local left=$((START + BUDGET - $(date +%s)))
    if [ "$left" -lt 15 ]; then
        log "SKIP  $name (time budget spent)"
        return 124
    fi
    [ "$limit" -gt "$left" ] && limit="$left"
    log "start $name (timeout ${limit}s): $*"
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    if [ "$rc" -eq 0 ]; then log "ok    $name"; else log "FAIL  $name (exit $rc, see $name.log)"; fi
    return "$rc"
}

# Puts a folder holding libnvrtc.so.12 on LD_LIBRARY_PATH.
find_nvrtc() {
    local dirs=("${HETL_NVRTC_DIR:-}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib
        "$CACHE/nvrtc-$NVRTC_VERSION/nvidia/cuda_nvrtc/lib")
    local site
    site=$(python3 -c 'import nvidia.cuda_nvrtc, os; print(os.path.join(list(nvidia.cuda_nvrtc.__path__)[0], "lib"))' 2>/dev/null)
    [ -n "$site" ] && dirs+=("$site")
    for d in "${dirs[@]}"; do
        if [ -n "$d" ] && [ -e "$d/libnvrtc.so.12" ]; then
            export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            log "NVRTC from $d"
            return 0
        fi
    done
    if ldconfig -p 2>/dev/null | grep -q 'libnvrtc.so.12'; then
        log "NVRTC from the system library path"
        return 0
    fi
    mkdir -p "$CACHE"
    if timeout 120 python3 -m pip download -q --retries 0 --timeout 15 --no-deps "nvidia-cuda-nvrtc-cu12==$NVRTC_VERSION" -d "$CACHE" \
        >>"$OUT/nvrtc.log" 2>&1; then
        python3 - "$CACHE" "$NVRTC_VERSION" <<'PY'
import glob, sys, zipfile
cache, version = sys.argv[1], sys.argv[2]
wheel = glob.glob(f"{cache}/nvidia_cuda_nvrtc_cu12-{version}-*.whl")[0]
zipfile.ZipFile(wheel).extractall(f"{cache}/nvrtc-{version}")
PY
        export LD_LIBRARY_PATH="$CACHE/nvrtc-$NVRTC_VERSION/nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        log "NVRTC downloaded to $CACHE"
        return 0
    fi
    log "NVRTC not found (set HETL_NVRTC_DIR); CUDA steps will fail"
    return 1
}

log "gpu_check: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(hostname)"
step nvidia-smi 30 nvidia-smi
find_nvrtc

# 1. Build (offline when the crates are already vendored or cached).
offline=()
cargo fetch --offline >/dev/null 2>&1 && offline=(--offline)
step build 240 cargo build --release "${offline[@]}" --bin hetl --test cuda_diff
HETL=("${CARGO_TARGET_DIR:-target}/release/hetl")
step devices 30 "${HETL[@]}" devices

# 2. Bit-exact differential tests; they fail (not skip) without a device.
HETL_REQUIRE_CUDA=1 step cuda_diff 120 cargo test --release "${offline[@]}" --test cuda_diff -- --test-threads 2

# 3. Benchmarks: CUDA and the CPU for reference, same ops and presets.
OPS="ntt,mul_relin,rotate,rescale"
for preset in n14 n15 n16; do
    step "bench_cuda_$preset" 90 "${HETL[@]}" bench --backend cuda --preset "$preset" --batch 1,8,64 --samples 5 \
        --ops "$OPS" --json && cp "$OUT/bench_cuda_$preset.log" "$OUT/bench_cuda_$preset.jsonl"
done
step bench_cpu_n14 45 "${HETL[@]}" bench --backend cpu --preset n14 --batch 1,8 --samples 3 --ops "$OPS" --json \
    && cp "$OUT/bench_cpu_n14.log" "$OUT/bench_cpu_n14.jsonl"

# 4. Best effort: DESILO FHE on the same GPU (a peer, not hetl).
log "---- peer library (best effort, not part of the hetl check) ----"
driver_cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: \([0-9]*\)\.\([0-9]*\).*/\1\2/p' | head -1)
if [ -n "$driver_cuda" ]; then
    # desilofhe-cu1xx wheels exist for a few CUDA versions: the newest the driver supports.
    cu=""
    for v in 132 130 128 126 124 121; do
        if [ "$v" -le "$driver_cuda" ]; then cu="$v"; break; fi
    done
    if [ -n "$cu" ] && step "desilo_install_cu$cu" 60 python3 -m pip install -q --retries 0 --timeout 15 "desilofhe-cu$cu"; then
        step desilo_bench 60 python3 tools/bench_desilo.py --log-n 14 --log-n 15 --log-n 16 --batch 1,8 \
            && cp "$OUT/desilo_bench.log" "$OUT/bench_desilo.jsonl"
    else
        log "desilofhe-cu${cu:-?} not installed (no wheel for CUDA $driver_cuda, or no network): DESILO skipped"
    fi
else
    log "no CUDA driver version from nvidia-smi: DESILO skipped"
fi
log "done; results in $OUT"
