"""Benchmark of DESILO FHE (a CKKS peer library) on a GPU, side by side with
hetl's CUDA backend; tools/gpu_check.sh runs it on the same machine.

Needs a ``desilofhe-cu1xx`` wheel matching the driver's CUDA version (or the
CPU ``desilofhe`` wheel with ``--mode cpu``). DESILO chooses the ring degree
from the depth it is asked for (max_level): 7 gives N = 2^14 (as hetl's n14,
depth 7), 17 the deepest at N = 2^15 (hetl n15: depth 19), 36 the deepest at
N = 2^16 (hetl n16: depth 40). Its primes, scale and key-switching digits are
its own: the figures compare ring size, depth and op, not identical
parameters.

Ops, each on fresh top-level ciphertexts:
  mul_relin_rescale  engine.multiply(a, b, relinearization_key): DESILO's
                     multiply relinearizes and rescales (hetl: mul_relin + rescale)
  rotate             engine.rotate(a, fixed_rotation_key(1)): one key switch

    python3 tools/bench_desilo.py --max-level 7 --max-level 36 --batch 1,8 [--samples 5] [--mode gpu]

Output: one JSON object per (max_level, op, batch) on stdout, with "backend":
"desilo", n, level, median_us over samples of the whole batch and
ops_per_s = batch * 1e6 / median_us; an op that fails gives an "error" line.
"""

import argparse
import json
import statistics
import sys
import time


def bench(max_level, batches, samples, mode, desilofhe):
    engine = desilofhe.Engine(max_level=max_level, mode=mode)
    n = 2 * engine.slot_count
    sk = engine.create_secret_key()
    pk = engine.create_public_key(sk)
    relin = engine.create_relinearization_key(sk)
    rot = engine.create_fixed_rotation_key(sk, 1)
    data = [0.5] * engine.slot_count
    ops = {
        "mul_relin_rescale": lambda a, b: engine.multiply(a, b, relin),
        "rotate": lambda a, _b: engine.rotate(a, rot),
    }
    for op, run in ops.items():
        for batch in batches:
            try:
                inputs = [engine.encrypt(data, pk) for _ in range(batch)]
                other = engine.encrypt(data, pk)
                out = run(inputs[0], other)  # warm-up
                times = []
                for _ in range(samples):
                    start = time.perf_counter()
                    outs = [run(c, other) for c in inputs]
                    times.append((time.perf_counter() - start) * 1e6)
                    del outs
                median = statistics.median(times)
                row = {"op": op, "backend": "desilo", "impl": f"desilofhe {engine.build_hash}", "mode": mode,
                       "n": n, "max_level": max_level, "level_out": out.level, "batch": batch,
                       "median_us": round(median, 1), "ops_per_s": round(batch * 1e6 / median, 1)}
            except Exception as e:  # noqa: BLE001 - report and go on with the next op
                row = {"op": op, "backend": "desilo", "max_level": max_level, "batch": batch, "error": repr(e)}
            print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-level", type=int, action="append", required=True)
    parser.add_argument("--batch", default="1")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--mode", default="gpu", choices=["gpu", "cpu"])
    args = parser.parse_args()
    try:
        import desilofhe
    except ImportError as e:
        sys.exit(f"bench_desilo.py: desilofhe is not installed ({e}); pip install desilofhe-cu1xx")
    batches = [int(b) for b in args.batch.split(",")]
    for max_level in args.max_level:
        try:
            bench(max_level, batches, args.samples, args.mode, desilofhe)
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"backend": "desilo", "max_level": max_level, "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
