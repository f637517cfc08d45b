#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for tools/gpu_check.sh on a GPU machine that
# has no network and no Rust toolchain: the release binary, the CUDA and wgpu
# differential-test binaries (stripped), the desilofhe CUDA wheel for the
# machine's Python 3.12, and the Vulkan loader and libglvnd .debs the NVIDIA
# Vulkan driver needs. Run it here (x86-64, with network), then on the GPU
# machine, carrying .gpu:
#   OUT=dir HETL_BIN=.gpu/hetl CUDA_DIFF_BIN=.gpu/cuda_diff WGPU_DIFF_BIN=.gpu/wgpu_diff \
#     WHEELS=.gpu VULKAN_DEBS=.gpu/gl bash tools/gpu_check.sh
# Optional:
#   BASELINE=path/to/an/older/hetl is copied to .gpu/hetl-baseline
#     (gpu_check.sh's BASELINE_BIN) for a before/after in the same call;
#   BASELINE_REV=commit builds that commit's hetl (a git worktree under
#     /tmp, its own target folder in ~/.cache/hetl-baseline-target) and
#     uses it as BASELINE;
#   WGPU=0 leaves out the wgpu test binary and the Vulkan .debs;
#   MINILM=1 adds all-MiniLM-L6-v2 with F16 weights (tools/shrink_model.py)
#     in .gpu/minilm (gpu_check.sh's MINILM_DIR, for Setup 1 on the GPU).
#   XZ=1 compresses the binaries (hetl.xz ...; gpu_check.sh unpacks a
#     missing HETL_BIN, CUDA_DIFF_BIN, BASELINE_BIN or WGPU_DIFF_BIN from
#     its .xz), a quarter of their size.
# A device call carries at most 64 MiB: MINILM=1 (45 MiB) fits with WGPU=0
# and no baseline, or with a baseline and XZ=1.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA_WHEEL="${CUDA_WHEEL:-desilofhe-cu130}"

rm -rf .gpu && mkdir -p .gpu
cargo build --release --bin hetl
cp target/release/hetl .gpu/hetl
tests=(cuda_diff)
[ "${WGPU:-1}" = 0 ] || tests+=(wgpu_diff)
for test in "${tests[@]}"; do
    exe=$(cargo test --release --test "$test" --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("executable") and m.get("target", {}).get("name") == sys.argv[1]:
        print(m["executable"])' "$test" | tail -1)
    cp "$exe" ".gpu/$test"
done
if [ -n "${BASELINE_REV:-}" ]; then
    src=/tmp/hetl-baseline-src
    git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
    git worktree add --detach "$src" "$BASELINE_REV"
    target="$HOME/.cache/hetl-baseline-target"
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --bin hetl)
    git worktree remove --force "$src"
    BASELINE="$target/release/hetl"
fi
if [ -n "${BASELINE:-}" ]; then cp "$BASELINE" .gpu/hetl-baseline; fi
strip .gpu/hetl* .gpu/*_diff
if [ "${MINILM:-0}" = 1 ]; then
    bash tools/fetch_model.sh
    python3 tools/shrink_model.py models/all-MiniLM-L6-v2 .gpu/minilm
fi
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    -d .gpu "$CUDA_WHEEL"
if [ "${WGPU:-1}" != 0 ]; then
    mkdir -p .gpu/gl
    (cd .gpu/gl && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>&1 | grep -v '^W:' || true)
fi
if [ "${XZ:-0}" = 1 ]; then xz -T0 -6 .gpu/hetl* .gpu/*_diff; fi
du -sh .gpu
echo "prepare_gpu_bundle: .gpu ready (at most 64 MiB travel with a device call)"
