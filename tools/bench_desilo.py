"""Best-effort benchmark of DESILO FHE (a CKKS peer library) on a GPU, for a
side-by-side look at hetl's CUDA backend; tools/gpu_check.sh runs it.

Needs a ``desilofhe-cu1xx`` wheel matching the driver's CUDA version. Its API
is used as its README shows (Engine, create_*_key, encrypt, multiply,
rescale, rotate); an op the installed version lacks is reported as an error
line, not a crash. DESILO picks its own primes, scale and key-switching
digits: the numbers are comparable in ring size and op, not in parameters.

    python3 tools/bench_desilo.py --log-n 14 --log-n 15 --batch 1,8 [--samples 5]

Output: one JSON object per (n, op, batch) on stdout, with "backend": "desilo",
median_us over samples of the whole batch and ops_per_s = batch * 1e6 / median_us.
"""

import argparse
import json
import statistics
import sys
import time


def engine_for(desilofhe, log_n):
    """A GPU engine with 2^(log_n - 1) slots (falls back to its defaults)."""
    try:
        return desilofhe.Engine(mode="gpu", slot_count=1 << (log_n - 1))
    except TypeError:
        return desilofhe.Engine(mode="gpu")


def bench(log_n, batches, samples, desilofhe):
    engine = engine_for(desilofhe, log_n)
    sk = engine.create_secret_key()
    pk = engine.create_public_key(sk)
    relin = engine.create_relinearization_key(sk)
    rot = engine.create_rotation_key(sk)
    data = [0.5] * 16
    ops = {
        "mul_relin": lambda c: engine.multiply(c, c, relin),
        "rescale": lambda c: engine.rescale(engine.multiply(c, c)),
        "rotate": lambda c: engine.rotate(c, rot, 1),
    }
    for op, run in ops.items():
        for batch in batches:
            try:
                inputs = [engine.encrypt(data, pk) for _ in range(batch)]
                run(inputs[0])  # warm-up
                times = []
                for _ in range(samples):
                    start = time.perf_counter()
                    outs = [run(c) for c in inputs]
                    times.append((time.perf_counter() - start) * 1e6)
                    del outs
                median = statistics.median(times)
                row = {"op": op, "backend": "desilo", "impl": f"desilofhe-{getattr(desilofhe, '__version__', '?')}",
                       "n": 1 << log_n, "batch": batch, "median_us": round(median, 1),
                       "ops_per_s": round(batch * 1e6 / median, 1)}
            except Exception as e:  # noqa: BLE001 - best effort: report and go on
                row = {"op": op, "backend": "desilo", "n": 1 << log_n, "batch": batch, "error": repr(e)}
            print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-n", type=int, action="append", required=True)
    parser.add_argument("--batch", default="1")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    try:
        import desilofhe
    except ImportError as e:
        sys.exit(f"bench_desilo.py: desilofhe is not installed ({e}); pip install desilofhe-cu1xx")
    batches = [int(b) for b in args.batch.split(",")]
    for log_n in args.log_n:
        try:
            bench(log_n, batches, args.samples, desilofhe)
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"backend": "desilo", "n": 1 << log_n, "error": repr(e)}), flush=True)


if __name__ == "__main__":
    main()
