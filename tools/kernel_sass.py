#!/usr/bin/env python3
"""Static instruction counts of the CUDA kernels, without a GPU.

Compiles each family of kernels/*.cu as the backend does (kernels/modarith.cuh
prepended, NVRTC, --fmad=false --std=c++17, a real architecture) to a CUBIN,
disassembles it with nvdisasm and prints, per kernel, its instructions and
each loop (a backward branch): instructions, shared loads and stores, global
loads, and IMAD.HI (the high halves of Shoup products); and its registers
per thread and stack frame (spills), which set how many blocks fit an SM.
A loop's count is its
body as laid out, every branch included. This measures what a kernel change
costs in machine code where no GPU can time it: fewer instructions per
butterfly or per source word is the change's case until a GPU run says more.

Needs libnvrtc (HETL_NVRTC_DIR, else the wheel .ci/run unpacks into
~/.cache/hetl-ci) and nvdisasm (NVDISASM, on PATH, else the
nvidia-cuda-nvdisasm wheel is downloaded into ~/.cache/hetl-ci/nvdisasm).

    python3 tools/kernel_sass.py [--arch sm_90] [-D NAME=VALUE ...] [--dump DIR] [FAMILY.cu ...]
"""

import argparse
import ctypes
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CACHE = os.path.expanduser("~/.cache/hetl-ci")


def nvrtc():
    """The NVRTC library, from HETL_NVRTC_DIR or .ci/run's unpacked wheel."""
    dirs = [os.environ.get("HETL_NVRTC_DIR", "")] + sorted(glob.glob(f"{CACHE}/nvrtc-*/nvidia/cuda_nvrtc/lib"))
    for d in dirs:
        for lib in sorted(glob.glob(os.path.join(d, "libnvrtc.so*"))):
            if "builtins" not in lib:
                return ctypes.CDLL(lib)
    sys.exit("kernel_sass: no libnvrtc (set HETL_NVRTC_DIR, or run .ci/run once to fetch it)")


def nvdisasm():
    """nvdisasm from NVDISASM, PATH, or the PyPI wheel (downloaded once)."""
    found = os.environ.get("NVDISASM") or shutil.which("nvdisasm")
    if found:
        return found
    tools = glob.glob(f"{CACHE}/nvdisasm/**/bin/nvdisasm", recursive=True)
    if not tools:
        wheels = f"{CACHE}/nvdisasm-wheel"
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheels,
                        "nvidia-cuda-nvdisasm"], check=True)
        for wheel in glob.glob(f"{wheels}/*.whl"):
            zipfile.ZipFile(wheel).extractall(f"{CACHE}/nvdisasm")
        tools = glob.glob(f"{CACHE}/nvdisasm/**/bin/nvdisasm", recursive=True)
    if not tools:
        sys.exit("kernel_sass: no nvdisasm (set NVDISASM)")
    os.chmod(tools[0], 0o755)
    return tools[0]


def cubin(lib, name, source, options):
    """The CUBIN of one family, or exit with NVRTC's log."""
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None):
        sys.exit(f"kernel_sass: nvrtcCreateProgram failed for {name}")
    opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    status = lib.nvrtcCompileProgram(prog, len(options), opts)
    size = ctypes.c_size_t()
    if status:
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        sys.exit(f"kernel_sass: {name} does not compile:\n{log.value.decode()}")
    lib.nvrtcGetCUBINSize(prog, ctypes.byref(size))
    out = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetCUBIN(prog, out)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return out.raw


def kernels(sass):
    """(name, instructions, loops) of every kernel in nvdisasm's text."""
    parts = re.split(r"//-+ \.text\.(\w+)\s*-+", sass)
    for name, body in zip(parts[1::2], parts[2::2]):
        labels, insts = {}, []
        for line in body.splitlines():
            label = re.match(r"\s*(\.L_x_\d+):", line)
            if label:
                labels[label.group(1)] = len(insts)
                continue
            inst = re.search(r"/\*[0-9a-f]{4,}\*/\s+(.*?)\s*;", line)
            if inst:
                insts.append(inst.group(1))
        loops = []
        for end, inst in enumerate(insts):
            target = re.search(r"BRA `\((\.L_x_\d+)\)", inst)
            if target and labels.get(target.group(1), end + 1) <= end:
                body_ = insts[labels[target.group(1)]:end + 1]
                count = lambda op: sum(re.search(rf"\b{op}\b", i) is not None for i in body_)
                loops.append((len(body_), count("LDS"), count("STS"), count("LDG"), count("IMAD.HI")))
        yield name, len(insts), sorted(loops, reverse=True)


def resources(text):
    """{kernel: (registers, stack frame bytes)} from nvdisasm's .nv.info."""
    found = {}
    for attr, name, value in re.findall(
            r"EIATTR_(REGCOUNT|FRAME_SIZE)\s.*?index@\((\w+)\)\s*\n\s*/\*[0-9a-f]+\*/\s*\.word\s+(0x[0-9a-f]+)", text,
            re.S):
        regs, frame = found.get(name, (0, 0))
        found[name] = (int(value, 16), frame) if attr == "REGCOUNT" else (regs, int(value, 16))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="sm_90")
    parser.add_argument("-D", dest="defines", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dump", metavar="DIR", help="also write each family's disassembly to DIR/FAMILY.sass")
    parser.add_argument("families", nargs="*", help="e.g. ntt.cu (default: every family)")
    args = parser.parse_args()
    lib, disasm = nvrtc(), nvdisasm()
    header = open(os.path.join(ROOT, "kernels", "modarith.cuh")).read()
    families = args.families or sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "kernels", "*.cu")))
    options = ["--fmad=false", "--std=c++17", f"--gpu-architecture={args.arch}"] + [f"-D{d}" for d in args.defines]
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            source = header + "\n" + open(os.path.join(ROOT, "kernels", family)).read()
            path = os.path.join(tmp, family + ".cubin")
            with open(path, "wb") as f:
                f.write(cubin(lib, family, source, options))
            sass = subprocess.run([disasm, "-c", path], capture_output=True, text=True, check=True).stdout
            if args.dump:
                os.makedirs(args.dump, exist_ok=True)
                with open(os.path.join(args.dump, family + ".sass"), "w") as f:
                    f.write(sass)
            info = resources(subprocess.run([disasm, path], capture_output=True, text=True, check=True).stdout)
            for name, total, loops in kernels(sass):
                regs, frame = info.get(name, (0, 0))
                shown = ", ".join(f"{n} ({lds} LDS, {sts} STS, {ldg} LDG, {hi} IMAD.HI)"
                                  for n, lds, sts, ldg, hi in loops[:6] if n > 1)
                print(f"{family} {name}: {total} instructions, {regs} registers, {frame} B stack; "
                      f"loops: {shown or 'none'}")


if __name__ == "__main__":
    main()
