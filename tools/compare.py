"""Compare hetl's benchmark figures with OpenFHE's, side by side.

Both sides write JSON lines, one object per op with at least: op, n, batch, limbs, median_us.
Rows whose backend is "openfhe" (tools/bench_openfhe.py) are OpenFHE's; all others are hetl's
(`hetl bench --json`, backend "cpu" or another hetl backend). Rows are matched on (op, n, batch)
and speed-up = openfhe median_us / hetl median_us, so > 1 means hetl is faster.

Usage (Python >= 3.10, standard library only):

    python3 tools/compare.py hetl.jsonl openfhe.jsonl [--markdown]
    cat *.jsonl | python3 tools/compare.py [--markdown]           # no files, or "-": stdin
    python3 tools/compare.py --run --hetl target/release/hetl --preset n14,n15,n16 \
        [--samples 10] [--python PYTHON3.10] [--markdown]

--run asks `HETL params --preset P --json` for each preset's log_n, depth, dnum and log_scale,
runs `HETL bench --backend cpu --preset P --json`, then tools/bench_openfhe.py with the same
ring dimension, depth, dnum and scale under Python 3.10 (--python; by default python3.10 if it
runs, else pyenv's 3.10.x), once per batch size that hetl reported, and prints the comparison.
--markdown prints a Markdown table (for the README and notes) instead of aligned text.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

OP_ORDER = ("encode", "encrypt", "decrypt", "add", "mul_relin", "rescale", "mul_relin_rescale",
            "rotate", "keyswitch",
            "ntt", "intt")
BENCH_OPENFHE = Path(__file__).resolve().with_name("bench_openfhe.py")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="JSON-lines files; none or '-' reads stdin")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--run", action="store_true", help="run both benchmarks, then compare")
    parser.add_argument("--hetl", help="path of the hetl binary (with --run)")
    parser.add_argument("--preset", help="comma-separated hetl presets, e.g. n14,n15 (with --run)")
    parser.add_argument("--samples", type=int, default=10, help="samples per op on both sides (--run)")
    parser.add_argument("--python", help="Python 3.10 interpreter with openfhe (--run)")
    args = parser.parse_args()
    if args.run:
        if args.files or not args.hetl or not args.preset:
            parser.error("--run needs --hetl and --preset, and no input files")
    elif args.hetl or args.preset or args.python:
        parser.error("--hetl, --preset and --python only go with --run")
    return args


def parse_rows(text, source):
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            sys.exit(f"compare.py: {source}:{number}: not JSON ({err}): {line[:80]}")
        if not isinstance(row, dict) or "op" not in row or not ("median_us" in row or "bits" in row):
            sys.exit(f"compare.py: {source}:{number}: expected an object with op and median_us (or bits)")
        rows.append(row)
    return rows


def read_files(paths):
    rows = []
    for path in paths or ["-"]:
        if path == "-":
            rows += parse_rows(sys.stdin.read(), "<stdin>")
        else:
            rows += parse_rows(Path(path).read_text(), path)
    return rows


def op_rank(op):
    return (OP_ORDER.index(op), "") if op in OP_ORDER else (len(OP_ORDER), op)


def ring_dim(row):
    return row["n"] if "n" in row else 1 << row["log_n"]


def comparison(rows):
    """Table rows (backend, op, n, batch, hetl limbs, openfhe limbs, hetl us, openfhe us)."""
    hetl, openfhe = {}, {}
    for row in (row for row in rows if "median_us" in row):
        key = (row["op"], ring_dim(row), row.get("batch", 1))
        if row.get("backend") == "openfhe":
            openfhe[key] = row
        else:
            hetl[(row.get("backend", "cpu"),) + key] = row
    hetl_backends = sorted({key[0] for key in hetl}) or ["cpu"]
    keys = {(backend,) + key for backend in hetl_backends for key in openfhe} | set(hetl)
    table = []
    for backend, op, n, batch in sorted(keys, key=lambda k: (k[0], k[2], op_rank(k[1]), k[3])):
        mine, theirs = hetl.get((backend, op, n, batch)), openfhe.get((op, n, batch))
        table.append((backend, op, n, batch,
                      mine and mine.get("limbs"), theirs and theirs.get("limbs"),
                      mine and mine["median_us"], theirs and theirs["median_us"]))
    return table


def format_table(table, markdown):
    show_backend = len({row[0] for row in table}) > 1
    header = (["hetl backend"] if show_backend else []) + [
        "op", "n", "batch", "limbs hetl", "limbs openfhe", "hetl µs", "openfhe µs", "speed-up"]

    def cell(value, fmt="{}"):
        return "–" if value is None else fmt.format(value)

    lines = []
    for backend, op, n, batch, limbs_h, limbs_o, us_h, us_o in table:
        speed_up = us_o / us_h if us_h and us_o else None
        lines.append(([backend] if show_backend else []) + [
            op, f"2^{n.bit_length() - 1}", str(batch), cell(limbs_h), cell(limbs_o),
            cell(us_h, "{:,.1f}"), cell(us_o, "{:,.1f}"), cell(speed_up, "{:.2f}×")])
    numeric = [i >= len(header) - 6 for i in range(len(header))]
    if markdown:
        rule = ["---:" if right else "---" for right in numeric]
        return "\n".join("| " + " | ".join(line) + " |" for line in [header, rule] + lines)
    widths = [max(len(line[i]) for line in [header] + lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(text.rjust(width) if right else text.ljust(width)
                  for text, width, right in zip(line, widths, numeric, strict=True)).rstrip()
        for line in [header] + lines)


def run(command):
    print("compare.py: running " + " ".join(command), file=sys.stderr)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"compare.py: {command[0]} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout


def openfhe_python(requested):
    """An interpreter that can run bench_openfhe.py (openfhe's wheel is CPython 3.10 only)."""
    if requested:
        return requested
    candidates = ["python3.10"] + sorted(glob.glob(os.path.expanduser(
        "~/.pyenv/versions/3.10.*/bin/python")), reverse=True)
    for candidate in candidates:
        if shutil.which(candidate) and subprocess.run(
                [candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    sys.exit("compare.py: no working python3.10 found; pass --python (bench_openfhe.py needs "
             "Python 3.10 with `python3.10 -m pip install openfhe`)")


def run_benchmarks(args):
    python = openfhe_python(args.python)
    rows = []
    for preset in args.preset.split(","):
        params = json.loads(run([args.hetl, "params", "--preset", preset, "--json"]))
        hetl_rows = parse_rows(
            run([args.hetl, "bench", "--backend", "cpu", "--preset", preset, "--json",
                 "--samples", str(args.samples)]),
            f"hetl bench --preset {preset}")
        rows += hetl_rows
        for batch in sorted({row.get("batch", 1) for row in hetl_rows}):
            # bench_openfhe.py reports ntt/intt per limb with batch 1 whatever --batch says.
            ops = [op for op in OP_ORDER if batch == 1 or op not in ("ntt", "intt")]
            rows += parse_rows(run([
                python, str(BENCH_OPENFHE), "--log-n", str(params["log_n"]),
                "--depth", str(params["depth"]), "--dnum", str(params["dnum"]),
                "--scale-bits", str(round(params["log_scale"])), "--batch", str(batch),
                "--samples", str(args.samples), "--ops", ",".join(ops)]),
                f"bench_openfhe.py ({preset})")
    return rows


def main():
    args = parse_args()
    rows = run_benchmarks(args) if args.run else read_files(args.files)
    print(format_table(comparison(rows), args.markdown))
    for row in rows:
        if "bits" in row:
            print(f"precision ({row.get('preset', '?')}, {row.get('what', row['op'])}, "
                  f"{row.get('encryption', '')}): max |error| {row['max_abs_error']:.3e} = {row['bits']:.1f} bits")


if __name__ == "__main__":
    main()
