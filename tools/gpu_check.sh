#!/usr/bin/env bash
# GPU machine check of the CUDA backend, in about 6 minutes (each step has
# its own timeout, all within GPU_CHECK_BUDGET seconds; a failed step is
# logged and the script goes on; steps run most wanted first, so a short
# budget skips the last ones):
#   1. nvidia-smi, NVRTC location, hetl devices
#   2. HETL_REQUIRE_CUDA=1 cuda_diff tests (bit-exact vs the CPU backend)
#      and again with each kernel variant ($VARIANTS, default
#      NTT_WIDE=1) and with uploads on a copy stream
#      (HETL_CUDA_COPY_STREAM=1)
#   3. hetl bench --backend cuda --batch 1,8,64 --json at n16 and n14 (ops
#      ntt,ntt_poly,mul_relin,rescale,mul_relin_rescale,rotate), each next to
#      a baseline build ($BASELINE_BIN, optional) for same-run ratios; at
#      n16 also this build with each of $VARIANTS, and encode (n16) and
#      matmul_enc_plain (n15) with one stream and with the copy stream
#   4. DESILO FHE (desilofhe-cu1xx matching the driver's CUDA version) at the
#      same ring sizes and closest depths, via tools/bench_desilo.py
#   5. the per-kind and per-kernel profile at n16 (device time, modeled
#      traffic, and each kernel's GB/s in summary.txt), Setup 1
#      end to end when the model is there ($MINILM_DIR), Setup 1's linear
#      algebra at n15 (all host threads, the plaintext cache, one thread),
#      n15, Setup 2 training on the GPU and the CPU, the wgpu backend
#      through Vulkan (differential tests if $WGPU_DIFF_BIN, bench)
#   6. the CPU backend on all cores at n14, for reference
# Everything goes under $OUT (default ./gpu_check_out): one log per step,
# bench JSON lines in bench_*.jsonl, and summary.txt with every step's status.
#
# Offline machines: set HETL_BIN and CUDA_DIFF_BIN to prebuilt binaries (from
# `cargo build --release` and `cargo test --release --test cuda_diff
# --no-run`) instead of building, and WHEELS to a folder holding the
# desilofhe wheel; else the script builds with cargo and installs from PyPI.
# tools/prepare_gpu_bundle.sh prepares all of them in .gpu/.
#
# NVRTC: libnvrtc.so.12 or a newer one (CUDA 13's NVRTC compiles the same
# kernels) from $HETL_NVRTC_DIR, the CUDA toolkit, an unpacked
# nvidia-cuda-nvrtc wheel (as .ci/run leaves it in ~/.cache/hetl-ci) or a
# pip-installed one; it is linked as libnvrtc.so, the first name cudarc loads.
#
# Vulkan: the NVIDIA driver's ICD is used when a Vulkan loader is present;
# VULKAN_DEBS names a folder of .debs to unpack where there is none
# (libvulkan1, and the libglvnd libraries the NVIDIA ICD links against).
#
# Usage: OUT=/some/dir [GPU_CHECK_BUDGET=360] [HETL_BIN=..] [CUDA_DIFF_BIN=..] [WHEELS=..]
#        [BASELINE_BIN=..] [VARIANTS=..] [WGPU_DIFF_BIN=..] [VULKAN_DEBS=..] [MINILM_DIR=..] bash tools/gpu_check.sh
# Through the device tool (which returns at most 8 files), with .gpu carried:
#   G=/tmp/g; mkdir -p $G; OUT=$G HETL_BIN=.gpu/hetl CUDA_DIFF_BIN=.gpu/cuda_diff \
#     WGPU_DIFF_BIN=.gpu/wgpu_diff WHEELS=.gpu VULKAN_DEBS=.gpu/gl BASELINE_BIN=.gpu/hetl-baseline GPU_CHECK_BUDGET=380 \
#     bash tools/gpu_check.sh >/dev/null 2>&1; tar czf $OUT/gpu_check.tgz -C /tmp g; cat $G/summary.txt
set -uo pipefail
cd "$(dirname "$0")/.."

OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
CACHE="$HOME/.cache/hetl-ci"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$HOME/.cache}"

log() {
    echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"
}

# Whole-script budget (seconds): a step gets at most what is left of it.
BUDGET="${GPU_CHECK_BUDGET:-360}"
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
    local t0=$(date +%s)
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    if [ "$rc" -eq 0 ]; then log "ok    $name ($(($(date +%s) - t0)) s)"; else log "FAIL  $name (exit $rc, see $name.log)"; fi
    return "$rc"
}

# Makes libnvrtc loadable: a folder with libnvrtc.so (linked to the newest
# library found) goes first on LD_LIBRARY_PATH, its own folder after it.
find_nvrtc() {
    local dirs=("${HETL_NVRTC_DIR:-}" /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib
        "$CACHE"/nvrtc-*/nvidia/cuda_nvrtc/lib)
    local site
    site=$(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))' 2>/dev/null)
    for d in $site; do dirs+=("$d"); done
    local lib=""
    for d in "${dirs[@]}"; do
        [ -n "$d" ] || continue
        lib=$(ls "$d"/libnvrtc.so.1[2-9]* 2>/dev/null | grep -v alt | sort -V | tail -1)
        [ -n "$lib" ] && break
    done
    if [ -z "$lib" ]; then
        log "NVRTC not found (set HETL_NVRTC_DIR); CUDA steps will fail"
        return 1
    fi
    mkdir -p /tmp/hetl-nvrtc
    ln -sf "$lib" /tmp/hetl-nvrtc/libnvrtc.so
    export LD_LIBRARY_PATH="/tmp/hetl-nvrtc:$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    log "NVRTC: $lib"
}

log "gpu_check: $(git rev-parse --short HEAD 2>/dev/null || echo unknown) on $(hostname)"
step nvidia-smi 20 bash -c 'nvidia-smi; nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,clocks.max.sm,driver_version --format=csv'
find_nvrtc

# 1. Binaries: prebuilt (a missing one unpacked from its .xz, as
# prepare_gpu_bundle.sh XZ=1 leaves them), or built here (offline when the
# crates are cached).
for bin in "${HETL_BIN:-}" "${CUDA_DIFF_BIN:-}" "${BASELINE_BIN:-}" "${WGPU_DIFF_BIN:-}"; do
    if [ -n "$bin" ] && [ ! -e "$bin" ] && [ -e "$bin.xz" ]; then
        python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
            "$bin.xz" "$bin" && chmod +x "$bin" && log "unpacked $bin.xz"
    fi
done
if [ -n "${HETL_BIN:-}" ] && [ -n "${CUDA_DIFF_BIN:-}" ]; then
    HETL=("$HETL_BIN")
    DIFF=("$CUDA_DIFF_BIN")
    log "prebuilt binaries: $HETL_BIN, $CUDA_DIFF_BIN"
else
    offline=()
    cargo fetch --offline >/dev/null 2>&1 && offline=(--offline)
    step build 240 cargo build --release "${offline[@]}" --bin hetl --test cuda_diff
    HETL=("${CARGO_TARGET_DIR:-target}/release/hetl")
    DIFF=(cargo test --release "${offline[@]}" --test cuda_diff --)
fi
step devices 60 "${HETL[@]}" devices

# 2. Bit-exact differential tests; they fail (not skip) without a device.
# Then the same with each kernel variant of $VARIANTS (comma-separated
# HETL_CUDA_DEFINES values, see src/backend/cuda/compile.rs; by default
# NTT_WIDE=1, the NTT with a 4096-word tile and rounds of four levels;
# VARIANTS= skips every variant step). A variant's steps are named by its
# switches (NTT_WIDE_1).
HETL_REQUIRE_CUDA=1 step cuda_diff 120 "${DIFF[@]}" --test-threads 4
VARIANTS="${VARIANTS-NTT_WIDE=1}"
IFS=, read -r -a VARIANT_LIST <<<"$VARIANTS"
variant_tag() { echo "$1" | tr ' =' '__'; }
for variant in "${VARIANT_LIST[@]}"; do
    log "kernel variant: HETL_CUDA_DEFINES=$variant"
    HETL_CUDA_DEFINES="$variant" HETL_REQUIRE_CUDA=1 step "cuda_diff_$(variant_tag "$variant")" 120 "${DIFF[@]}" \
        --test-threads 4
done
log "uploads on a copy stream: HETL_CUDA_COPY_STREAM=1"
HETL_CUDA_COPY_STREAM=1 HETL_REQUIRE_CUDA=1 step cuda_diff_copy_stream 120 "${DIFF[@]}" --test-threads 4

# 3. Benchmarks, most wanted first (later steps are skipped when the budget
# runs out): N = 2^16 at full depth and the baseline build at the same N,
# then both at n14, DESILO, where the time goes, n15.
OPS="ntt,ntt_poly,mul_relin,rescale,mul_relin_rescale,rotate"
# bench_cuda PRESET TIMEOUT: this build's CUDA bench.
bench_cuda() {
    step "bench_cuda_$1" "$2" "${HETL[@]}" bench --backend cuda --preset "$1" --batch 1,8,64 --samples 3 --ops "$OPS" --json
    grep -s '^{' "$OUT/bench_cuda_$1.log" >"$OUT/bench_cuda_$1.jsonl"
}
# bench_baseline PRESET: the baseline build ($BASELINE_BIN), same ops.
bench_baseline() {
    [ -n "${BASELINE_BIN:-}" ] || return 0
    step "bench_baseline_$1" 80 "$BASELINE_BIN" bench --backend cuda --preset "$1" --batch 1,8,64 --samples 3 \
        --ops "$OPS" --json
    grep -s '^{' "$OUT/bench_baseline_$1.log" >"$OUT/bench_baseline_$1.jsonl"
}
# kernel_summary FILE: each kernel's device time and bandwidth (modeled
# bytes over its time) in the profile lines of FILE, into summary.txt.
kernel_summary() {
    python3 - "$1" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
for line in open(sys.argv[1]):
    p = json.loads(line)
    kernels = sorted(p.get("kernels", {}).items(), key=lambda kv: -kv[1]["device_us_per_op"])
    print(f"  kernels of {p['op']} at batch {p['batch']}, per op: " + ", ".join(
        f"{k} {v['device_us_per_op']:.1f} µs {v['model_gb_per_s']:.0f} GB/s" for k, v in kernels))
PY
}
# bench_variant PRESET: this build with each of $VARIANTS, the ops the NTT
# drives, then their kernels' profile at batch 64.
bench_variant() {
    for variant in "${VARIANT_LIST[@]}"; do
        local name="bench_variant_$1_$(variant_tag "$variant")"
        HETL_CUDA_DEFINES="$variant" step "$name" 60 "${HETL[@]}" bench --backend cuda --preset "$1" \
            --batch 1,8,64 --samples 3 --ops ntt,ntt_poly,mul_relin_rescale,rotate --json
        grep -s '^{' "$OUT/$name.log" >"$OUT/$name.jsonl"
        HETL_CUDA_DEFINES="$variant" step "profile_$name" 40 "${HETL[@]}" bench --backend cuda --preset "$1" \
            --batch 64 --samples 1 --ops ntt_poly,mul_relin_rescale --profile --json
        grep -s '"profile"' "$OUT/profile_$name.log" >"$OUT/profile_$name.jsonl"
        kernel_summary "$OUT/profile_$name.jsonl"
    done
}
# copy_stream_bench: the upload-heavy ops with one stream (0) and with the
# copy stream (1), in turn: encode at n16 (host encoding, uploads and NTTs
# in chunks) and matmul_enc_plain at n15 (diagonals encoded and uploaded
# at every call); JSON lines in bench_copy_stream_0.jsonl and _1.jsonl.
copy_stream_bench() {
    for on in 0 1; do
        HETL_CUDA_COPY_STREAM=$on step "bench_copy_stream_${on}_encode" 40 "${HETL[@]}" bench --backend cuda \
            --threads "$(nproc)" --preset n16 --batch 8,64 --samples 3 --ops encode --json
        HETL_CUDA_COPY_STREAM=$on step "bench_copy_stream_${on}_matmul" 45 "${HETL[@]}" bench --backend cuda \
            --threads "$(nproc)" --preset n15 --batch 1 --samples 2 --ops matmul_enc_plain --json
        cat "$OUT/bench_copy_stream_${on}"_*.log 2>/dev/null | grep '^{' >"$OUT/bench_copy_stream_$on.jsonl"
    done
}
bench_cuda n16 80
bench_variant n16
copy_stream_bench
bench_baseline n16
bench_cuda n14 40
bench_baseline n14

# 4. DESILO FHE on the same GPU: depth 36 at N = 2^16, 7 at 2^14, 17 at 2^15.
driver_cuda=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: \([0-9]*\)\.\([0-9]*\).*/\1\2/p' | head -1)
cu=""
for v in 130 128 126 124; do
    if [ -n "$driver_cuda" ] && [ "$v" -le "$driver_cuda" ]; then cu="$v"; break; fi
done
if [ -z "$cu" ]; then
    log "no desilofhe wheel for the driver's CUDA ${driver_cuda:-?}: DESILO skipped"
elif [ -n "${WHEELS:-}" ]; then
    step "desilo_install_cu$cu" 60 python3 -m pip install -q --no-index --no-deps --target /tmp/desilo-site \
        "$WHEELS"/desilofhe_cu"$cu"-*.whl && export PYTHONPATH="/tmp/desilo-site${PYTHONPATH:+:$PYTHONPATH}"
else
    step "desilo_install_cu$cu" 60 python3 -m pip install -q --retries 0 --timeout 15 "desilofhe-cu$cu"
fi
if [ -n "$cu" ]; then
    step desilo_bench 90 python3 tools/bench_desilo.py --max-level 36 --max-level 7 --max-level 17 --batch 1,8,64
    grep -s '^{' "$OUT/desilo_bench.log" >"$OUT/bench_desilo.jsonl"
fi

# 5. Where the device time and the modeled traffic of the key-switching ops
# go at N = 2^16 (per kind, with model_gb_per_s); then n15.
step profile_cuda_n16 60 "${HETL[@]}" bench --backend cuda --preset n16 --batch 64 --samples 1 \
    --ops mul_relin_rescale,rotate,rescale,ntt_poly --profile --json
grep -s '"profile"' "$OUT/profile_cuda_n16.log" >"$OUT/profile_cuda_n16.jsonl"
kernel_summary "$OUT/profile_cuda_n16.jsonl"

# 5a. Setup 1 on the GPU (with all-MiniLM-L6-v2 in models/, or MINILM_DIR
# from prepare_gpu_bundle.sh MINILM=1): one encrypted layer profiled layer
# by layer (and by the baseline build, when there is one), the head trained
# on the encrypted representations of 2 + 1 notes with the weight diagonals
# cached, and the same profile on the CPU's cores.
if [ -n "${MINILM_DIR:-}" ] && [ ! -e models/all-MiniLM-L6-v2 ]; then
    mkdir -p models && ln -s "$(realpath "$MINILM_DIR")" models/all-MiniLM-L6-v2
fi
if [ -e models/all-MiniLM-L6-v2 ]; then
    step setup1_profile_cuda 150 "${HETL[@]}" profile --setup 1 --backend cuda --threads "$(nproc)" \
        --json "$OUT/setup1_profile_cuda.json"
    if [ -n "${BASELINE_BIN:-}" ]; then
        step setup1_profile_baseline 150 "$BASELINE_BIN" profile --setup 1 --backend cuda --threads "$(nproc)" \
            --json "$OUT/setup1_profile_baseline.json"
    fi
    step setup1_train_cuda 150 "${HETL[@]}" train --setup 1 --backend cuda --threads "$(nproc)" --limit 2 \
        --plaintext-cache-mb 16384 --report "$OUT/setup1_train_cuda.json"
    step setup1_profile_cpu 150 "${HETL[@]}" profile --setup 1 --backend cpu --threads "$(nproc)" \
        --json "$OUT/setup1_profile_cpu.json"
else
    log "no MiniLM model in models/ (MINILM_DIR unset): Setup 1 skipped"
fi

# 5b. Setup 1's linear algebra at n15 (diagonals encoded per call on the
# host threads, one NTT launch per bucket), with all host threads and the
# upload share in the profile, then with its diagonals kept on the device
# after the first run; then with one host thread.
step linalg_cuda_n15_threads 45 "${HETL[@]}" bench --backend cuda --threads "$(nproc)" --preset n15 --batch 1 \
    --samples 2 --ops matmul_enc_plain --profile --json
step linalg_cuda_n15_cached 45 "${HETL[@]}" bench --backend cuda --threads "$(nproc)" --preset n15 --batch 1 \
    --samples 2 --ops matmul_enc_plain --plaintext-cache-mb 8192 --profile --json
bench_cuda n15 60
step linalg_cuda_n15 60 "${HETL[@]}" bench --backend cuda --preset n15 --batch 1 --samples 2 \
    --ops matmul_enc_plain,matmul_enc_enc --json
cat "$OUT/linalg_cuda_n15.log" "$OUT/linalg_cuda_n15_threads.log" "$OUT/linalg_cuda_n15_cached.log" 2>/dev/null |
    grep '^{' >"$OUT/linalg_cuda_n15.jsonl"

# 5c. Setup 2 end to end (encrypted training of the head on the bundled
# features) on the GPU and on the CPU, at n14 and n16.
for preset in n14 n16; do
    step "train_cuda_$preset" 60 "${HETL[@]}" train --backend cuda --threads "$(nproc)" --preset "$preset" \
        --report "$OUT/train_cuda_$preset.json"
    step "train_cpu_$preset" 60 "${HETL[@]}" train --backend cpu --threads "$(nproc)" --preset "$preset" \
        --report "$OUT/train_cpu_$preset.json"
done

# 5d. wgpu on the GPU through Vulkan.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1' && [ -n "${VULKAN_DEBS:-}" ]; then
    for deb in "$VULKAN_DEBS"/*.deb; do dpkg -x "$deb" /; done
    ldconfig && log "Vulkan loader and libglvnd unpacked from $VULKAN_DEBS"
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
    /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -e "$icd" ]; then export VK_DRIVER_FILES="$icd"; log "Vulkan ICD: $icd"; break; fi
done
export WGPU_BACKEND=vulkan VK_LOADER_DEBUG=error
if [ -n "${WGPU_DIFF_BIN:-}" ]; then
    HETL_REQUIRE_WGPU=1 step wgpu_diff 90 "$WGPU_DIFF_BIN" --test-threads 4
fi
step bench_wgpu_n14 60 "${HETL[@]}" bench --backend wgpu --preset n14 --batch 1,8,64 --samples 3 --ops "$OPS" --json
grep -s '^{' "$OUT/bench_wgpu_n14.log" >"$OUT/bench_wgpu_n14.jsonl"

# 6. The CPU backend on every core, for reference.
step bench_cpu_n14 40 "${HETL[@]}" bench --backend cpu --threads "$(nproc)" --preset n14 --batch 1,8 --samples 3 \
    --ops "$OPS" --json
grep -s '^{' "$OUT/bench_cpu_n14.log" >"$OUT/bench_cpu_n14.jsonl"
log "done; results in $OUT"
