"""Benchmark OpenFHE's CKKS primitives, single-threaded, as a yardstick for hetl.

Needs the PyPI package ``openfhe`` (1.6.1.x). Its wheel holds a CPython 3.10 extension only,
so install and run it with Python 3.10:

    python3.10 -m pip install openfhe
    python3.10 tools/bench_openfhe.py --log-n 14 --depth 9 --dnum 3 [--samples 10]
        [--batch 1] [--scale-bits 30] [--first-mod-bits 60] [--ops add,mul_relin,...]

(With pyenv, python3.10 is /root/.pyenv/versions/3.10.13/bin/python, or the python3.10 shim
with PYENV_VERSION=3.10.13.) OpenFHE refuses a dnum that leaves a digit without limbs, e.g.
dnum 6 for 10 limbs (ceil(10 / 6) = 2 limbs per digit fill only 5 digits).

The CKKS context uses ring dimension 2^log-n, N/2 slots, a first modulus of first-mod-bits,
depth scaling moduli of scale-bits each (so a fresh ciphertext has depth + 1 RNS limbs), HYBRID
key switching with dnum large digits and FIXEDMANUAL scaling (EvalMult relinearizes but does not
rescale). OpenMP is pinned to one thread (OMP_NUM_THREADS=1 is set before openfhe is loaded).

Ops (default: all): encode, encrypt (public key), decrypt (includes decoding), add, mul_relin,
rescale, mul_relin_rescale (EvalMult then Rescale), rotate (by one slot), keyswitch (KeySwitch
with a KeySwitchGen key), ntt and intt.
Each op is run on `batch` independent fresh top-level inputs per sample; median_us is the median
over samples of the wall time of the whole batch, and ops_per_s = batch * 1e6 / median_us.
Inputs are prepared untimed; results are freed after the clock stops.

ntt/intt time OpenFHE's own compiled NTT of one limb (ring dimension N, modulo the largest
prime below 2^scale-bits that is 1 mod 2N, given as "prime" in their rows) through
tools/bench_openfhe_ntt.cpp, which is built with g++ against the wheel's libOPENFHEcore on
first use and cached under $XDG_CACHE_HOME/hetl (default ~/.cache/hetl). Their rows have
limbs = 1 and batch = 1; without g++ they are skipped with a note on stderr.

Output: one JSON object per op on stdout, e.g.
    {"op": "add", "backend": "openfhe", "impl": "openfhe-1.6.1", "threads": 1, "n": 16384,
     "limbs": 10, "dnum": 3, "batch": 1, "median_us": 210.5, "ops_per_s": 4750.6}
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

OPS = ("encode", "encrypt", "decrypt", "add", "mul_relin", "rescale", "mul_relin_rescale",
       "rotate", "keyswitch",
       "ntt", "intt")
NTT_SOURCE = Path(__file__).resolve().with_name("bench_openfhe_ntt.cpp")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-n", type=int, required=True, help="log2 of the ring dimension N")
    parser.add_argument("--depth", type=int, required=True, help="multiplicative depth L")
    parser.add_argument("--dnum", type=int, required=True,
                        help="number of large digits for HYBRID key switching")
    parser.add_argument("--scale-bits", type=int, default=30, help="bits of each scaling prime")
    parser.add_argument("--first-mod-bits", type=int, default=60, help="bits of the first prime")
    parser.add_argument("--batch", type=int, default=1,
                        help="independent ops timed together in one sample")
    parser.add_argument("--samples", type=int, default=10, help="timed samples per op")
    parser.add_argument("--ops", default=",".join(OPS),
                        help="comma-separated subset of: " + ",".join(OPS))
    args = parser.parse_args()
    args.ops = [op for op in args.ops.split(",") if op]
    unknown = sorted(set(args.ops) - set(OPS))
    if unknown:
        parser.error("unknown op(s): " + ", ".join(unknown))
    if args.batch < 1 or args.samples < 1:
        parser.error("--batch and --samples must be at least 1")
    return args


def import_openfhe():
    os.environ["OMP_NUM_THREADS"] = "1"  # read by libgomp when openfhe loads it
    try:
        import openfhe
    except ImportError as err:
        sys.exit(f"bench_openfhe.py: cannot import openfhe ({err}).\n"
                 "Install it with: python3.10 -m pip install openfhe\n"
                 "Its wheel holds a CPython 3.10 extension only, so run this script with "
                 f"Python 3.10 (this is Python {sys.version_info.major}.{sys.version_info.minor}).")
    return openfhe


def make_context(ofhe, args):
    params = ofhe.CCParamsCKKSRNS()
    params.SetMultiplicativeDepth(args.depth)
    params.SetScalingModSize(args.scale_bits)
    params.SetFirstModSize(args.first_mod_bits)
    params.SetRingDim(1 << args.log_n)
    params.SetBatchSize(1 << (args.log_n - 1))
    params.SetKeySwitchTechnique(ofhe.HYBRID)
    params.SetNumLargeDigits(args.dnum)
    params.SetScalingTechnique(ofhe.FIXEDMANUAL)
    # No security check here: hetl checks the security of its parameter sets itself, and the
    # benchmark must run OpenFHE on exactly the same N and modulus chain.
    params.SetSecurityLevel(ofhe.HEStd_NotSet)
    try:
        cc = ofhe.GenCryptoContext(params)
    except RuntimeError as err:
        sys.exit(f"bench_openfhe.py: OpenFHE refused the parameters: {err}")
    for feature in (ofhe.PKE, ofhe.KEYSWITCH, ofhe.LEVELEDSHE):
        cc.Enable(feature)
    return cc


def find_key(node, key):
    """The first value stored under `key` in a depth-first walk of parsed JSON."""
    if isinstance(node, dict):
        if key in node:
            return node[key]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = find_key(child, key)
        if found is not None:
            return found
    return None


def context_shape(ofhe, cc):
    """(RNS limbs of a fresh ciphertext, dnum in use), read from the serialized context."""
    serialized = json.loads(ofhe.Serialize(cc, ofhe.JSON))
    element_params = find_key(serialized, "elp")
    return len(find_key(element_params, "p")), find_key(serialized, "dnum")


def time_batch(op, inputs, samples):
    """Median over samples of the wall time in µs of applying op to every input tuple."""
    op(*inputs[0])  # warm-up: lets OpenFHE build its lazily computed tables
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        results = [op(*args) for args in inputs]
        times.append((time.perf_counter() - start) * 1e6)
        del results
    return statistics.median(times)


def bench_he_ops(ofhe, cc, args, ops):
    """Yields (op, median_us) for the requested ops other than ntt/intt."""
    import numpy as np

    rng = np.random.default_rng(1)
    slots = 1 << (args.log_n - 1)
    values = [rng.uniform(-1.0, 1.0, slots) for _ in range(2 * args.batch)]
    keys = cc.KeyGen()
    plaintexts = [cc.MakeCKKSPackedPlaintext(v) for v in values]
    fresh = [cc.Encrypt(keys.publicKey, pt) for pt in plaintexts]
    pairs = list(zip(fresh[:args.batch], fresh[args.batch:], strict=True))
    singles = [(ct,) for ct in fresh[:args.batch]]

    if "encode" in ops:
        yield "encode", time_batch(cc.MakeCKKSPackedPlaintext, [(v,) for v in values[:args.batch]],
                                   args.samples)
    if "encrypt" in ops:
        yield "encrypt", time_batch(lambda pt: cc.Encrypt(keys.publicKey, pt),
                                    [(pt,) for pt in plaintexts[:args.batch]], args.samples)
    if "decrypt" in ops:
        yield "decrypt", time_batch(lambda ct: cc.Decrypt(keys.secretKey, ct), singles,
                                    args.samples)
    if "add" in ops:
        yield "add", time_batch(cc.EvalAdd, pairs, args.samples)
    if {"mul_relin", "rescale", "mul_relin_rescale"} & set(ops):
        cc.EvalMultKeyGen(keys.secretKey)
    if "mul_relin" in ops:
        yield "mul_relin", time_batch(cc.EvalMult, pairs, args.samples)
    if "rescale" in ops:
        products = [(cc.EvalMult(a, b),) for a, b in pairs]
        product = products[0][0]
        if product.GetNoiseScaleDeg() != 2 or product.GetLevel() != 0:
            raise RuntimeError("EvalMult rescaled its result: FIXEDMANUAL semantics changed")
        yield "rescale", time_batch(cc.Rescale, products, args.samples)
    if "mul_relin_rescale" in ops:
        yield "mul_relin_rescale", time_batch(lambda a, b: cc.Rescale(cc.EvalMult(a, b)), pairs,
                                              args.samples)
    if "rotate" in ops:
        cc.EvalRotateKeyGen(keys.secretKey, [1])
        yield "rotate", time_batch(lambda ct: cc.EvalRotate(ct, 1), singles, args.samples)
    if "keyswitch" in ops:
        switch_key = cc.KeySwitchGen(keys.secretKey, cc.KeyGen().secretKey)
        yield "keyswitch", time_batch(lambda ct: cc.KeySwitch(ct, switch_key), singles,
                                      args.samples)


def ntt_binary(ofhe):
    """The cached NTT benchmark binary, built on first use; None (with a note) if it can't be."""
    lib_dir = Path(ofhe.__file__).resolve().parent / "lib"
    compiler = shutil.which("g++")
    if compiler is None or not (lib_dir / "libOPENFHEcore.so.1").exists():
        print("bench_openfhe.py: skipping ntt/intt: needs g++ and the wheel's "
              f"{lib_dir}/libOPENFHEcore.so.1", file=sys.stderr)
        return None
    digest = hashlib.sha256(NTT_SOURCE.read_bytes() + str(lib_dir).encode()
                            + ofhe.__version__.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hetl"
    binary = cache / f"bench_openfhe_ntt-{digest}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    build = subprocess.run(
        [compiler, "-O2", "-std=c++17", str(NTT_SOURCE), "-o", str(binary), f"-L{lib_dir}",
         "-l:libOPENFHEcore.so.1", f"-Wl,-rpath,{lib_dir}"],
        capture_output=True, text=True)
    if build.returncode != 0:
        print(f"bench_openfhe.py: skipping ntt/intt: building {NTT_SOURCE.name} failed:\n"
              f"{build.stderr}", file=sys.stderr)
        return None
    return binary


def bench_ntt(ofhe, args):
    """Yields (op, median_us, prime) for OpenFHE's forward and inverse NTT of one limb."""
    binary = ntt_binary(ofhe)
    if binary is None:
        return
    run = subprocess.run([str(binary), str(args.log_n), str(args.scale_bits), str(args.samples)],
                         capture_output=True, text=True, check=True)
    prime, forward_us, inverse_us = run.stdout.split()
    yield "ntt", float(forward_us), int(prime)
    yield "intt", float(inverse_us), int(prime)


def main():
    args = parse_args()
    ofhe = import_openfhe()
    impl = "openfhe-" + ".".join(ofhe.__version__.split(".")[:3])
    cc = make_context(ofhe, args)
    limbs, dnum = context_shape(ofhe, cc)
    if limbs != args.depth + 1:
        raise RuntimeError(f"OpenFHE built {limbs} limbs for depth {args.depth}")
    if dnum != args.dnum:
        print(f"bench_openfhe.py: OpenFHE uses dnum {dnum}, not the {args.dnum} asked for",
              file=sys.stderr)
    print(f"bench_openfhe.py: {impl}, N = 2^{args.log_n}, {limbs} limbs, dnum {dnum}, "
          f"batch {args.batch}, {args.samples} samples, single-threaded (OMP_NUM_THREADS=1)",
          file=sys.stderr)

    def emit(op, n_limbs, batch, median_us, **extra):
        row = {"op": op, "backend": "openfhe", "impl": impl, "threads": 1, "n": 1 << args.log_n,
               "limbs": n_limbs, "dnum": dnum, "batch": batch, "median_us": round(median_us, 3),
               "ops_per_s": round(batch * 1e6 / median_us, 3), **extra}
        print(json.dumps(row), flush=True)

    he_ops = [op for op in args.ops if op not in ("ntt", "intt")]
    if he_ops:
        for op, median_us in bench_he_ops(ofhe, cc, args, he_ops):
            emit(op, limbs, args.batch, median_us)
    if len(he_ops) < len(args.ops):
        for op, median_us, prime in bench_ntt(ofhe, args):
            if op in args.ops:
                emit(op, 1, 1, median_us, prime=prime)


if __name__ == "__main__":
    main()
