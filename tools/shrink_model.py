#!/usr/bin/env python3
"""Writes a copy of a sentence-transformers model folder whose F32 tensors
are rounded to F16 (round to nearest even), about half the size, for places
a copy must be small: a GPU call may carry at most 64 MiB and the F32
all-MiniLM-L6-v2 weights are 87 MiB. hetl reads F16 tensors (widened
exactly to f32), so the copy runs the same model with weights rounded to 11
significant bits; compare encrypted against plaintext runs of the same copy.

Standard library only. Tensors of other types are copied unchanged. Fails
with a message (exit 1) on a value that overflows F16 or a malformed file.

Usage: python3 tools/shrink_model.py SRC_DIR DEST_DIR
"""
import json
import shutil
import struct
import sys
from array import array
from pathlib import Path

# What hetl's MiniLm::load reads besides the weights.
COPIED = ["config.json", "sentence_bert_config.json", "tokenizer.json"]
F16_MAX = 65504.0


def fail(message):
    print(f"shrink_model.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def read_safetensors(path):
    data = path.read_bytes()
    if len(data) < 8:
        fail(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        fail(f"{path}: header length {header_len} past the end of the file")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except ValueError as err:
        fail(f"{path}: header is not JSON ({err})")
    return header, memoryview(data)[8 + header_len :]


def to_f16(name, raw):
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    if values and max(abs(min(values)), abs(max(values))) > F16_MAX:
        fail(f"tensor {name} has values beyond the F16 range")
    return struct.pack(f"<{len(values)}e", *values)


def main():
    if len(sys.argv) != 3:
        fail("usage: shrink_model.py SRC_DIR DEST_DIR")
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    header, body = read_safetensors(src / "model.safetensors")
    out_header, chunks, offset = {}, [], 0
    if "__metadata__" in header:
        out_header["__metadata__"] = header.pop("__metadata__")
    for name, info in sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0]):
        if len(info.get("data_offsets", [])) != 2 or "dtype" not in info:
            fail(f"tensor {name}: malformed header entry {info}")
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end <= len(body):
            fail(f"tensor {name} has offsets {begin}..{end} past the data ({len(body)} bytes)")
        # F32 tensors are rounded; others (position ids) are copied as they are.
        dtype, words = ("F16", to_f16(name, body[begin:end])) if info["dtype"] == "F32" else (info["dtype"], body[begin:end])
        out_header[name] = {"dtype": dtype, "shape": info["shape"], "data_offsets": [offset, offset + len(words)]}
        chunks.append(words)
        offset += len(words)
    head = json.dumps(out_header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "model.safetensors", "wb") as out:
        out.write(struct.pack("<Q", len(head)))
        out.write(head)
        for chunk in chunks:
            out.write(chunk)
    for name in COPIED:
        if not (src / name).is_file():
            fail(f"{src / name} is missing (run tools/fetch_model.sh)")
        shutil.copy(src / name, dest / name)
    size = (dest / "model.safetensors").stat().st_size
    print(f"shrink_model.py: {len(chunks)} tensors, {size / 2**20:.1f} MiB in {dest}")


if __name__ == "__main__":
    main()
